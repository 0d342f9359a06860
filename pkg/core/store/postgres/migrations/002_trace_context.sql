-- wogate store schema, version 2 (PostgreSQL): the W3C trace context
-- (a traceparent header value) of the span that stored an event or an
-- action, so dispatch and egress continue the webhook's trace. NULL when
-- tracing was off or the event started no trace (polling, reconciliation).
-- Adding a nullable column without a default is a catalog change only: no
-- table rewrite, however many rows are stored.
ALTER TABLE events ADD COLUMN trace_parent text;
ALTER TABLE actions ADD COLUMN trace_parent text;
