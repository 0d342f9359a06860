-- wogate store schema, version 3 (SQLite): pending events and actions in id
-- order. The claims take the oldest claimable lane heads; through the lane
-- indexes (ordered by work order) SQLite had to look at every pending row
-- and sort before applying the LIMIT, so a claim cost grew with the
-- backlog (7 ms per claim with 5,000 pending events in the end-to-end
-- benchmark). Walking these in id order stops after LIMIT lane heads.
CREATE INDEX events_pending ON events (id) WHERE status = 'pending';
CREATE INDEX actions_pending ON actions (id) WHERE status = 'pending';
