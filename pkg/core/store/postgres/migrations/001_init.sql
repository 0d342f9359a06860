-- wogate store schema, version 1 (PostgreSQL).
-- Runs with search_path set to the store's schema. Bodies, decisions and
-- payloads are bytea: kept byte for byte as received (jsonb would reorder
-- keys and drop whitespace). A zero ActionDate/NextAt is 0001-01-01 UTC, so
-- it sorts first; other unset times are NULL.

CREATE TABLE events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account        text        NOT NULL,
    message_id     text        NOT NULL,
    work_order_id  bigint      NOT NULL DEFAULT 0,
    action         text        NOT NULL DEFAULT '',
    action_date    timestamptz NOT NULL,
    received_at    timestamptz NOT NULL,
    source         text        NOT NULL DEFAULT '',
    plugin         text        NOT NULL DEFAULT '',
    body           bytea,
    status         text        NOT NULL CHECK (status IN ('pending','done','dead','parked','ignored')),
    attempts       integer     NOT NULL DEFAULT 0,
    next_at        timestamptz NOT NULL,
    last_error     text        NOT NULL DEFAULT '',
    decision       bytea,
    config_version text        NOT NULL DEFAULT '',
    handled_at     timestamptz,
    lease_owner    text        NOT NULL DEFAULT '',
    lease_until    timestamptz,
    updated_at     timestamptz NOT NULL,
    UNIQUE (account, message_id)
);
CREATE INDEX events_lane ON events (account, work_order_id, action_date, id) WHERE status = 'pending';
CREATE INDEX events_work_order ON events (account, work_order_id);
CREATE INDEX events_status ON events (status, updated_at);

CREATE TABLE actions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        bigint      NOT NULL REFERENCES events (id),
    idempotency_key text        NOT NULL UNIQUE,
    account         text        NOT NULL,
    work_order_id   bigint      NOT NULL DEFAULT 0,
    rule            text        NOT NULL DEFAULT '',
    plugin          text        NOT NULL DEFAULT '',
    kind            text        NOT NULL DEFAULT '',
    payload         bytea,
    created_at      timestamptz NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pending','sent','refused','dead','parked','ignored','shadow')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_at         timestamptz NOT NULL,
    last_error      text        NOT NULL DEFAULT '',
    sent_at         timestamptz,
    lease_owner     text        NOT NULL DEFAULT '',
    lease_until     timestamptz,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX actions_lane ON actions (account, work_order_id, id) WHERE status = 'pending';
CREATE INDEX actions_event ON actions (event_id);
CREATE INDEX actions_work_order ON actions (account, work_order_id);
CREATE INDEX actions_status ON actions (status, updated_at);

-- One row per work order lane and kind ('event' or 'action'). A claim
-- locks lane rows FOR UPDATE SKIP LOCKED and holds the lane's lease here,
-- so two replicas can never work on the same lane at once, even when an
-- earlier event arrives while a later one is in flight.
CREATE TABLE lanes (
    kind          text        NOT NULL,
    account       text        NOT NULL,
    work_order_id bigint      NOT NULL,
    lease_owner   text        NOT NULL DEFAULT '',
    lease_until   timestamptz,
    row_id        bigint,
    PRIMARY KEY (kind, account, work_order_id)
);

CREATE TABLE comm_log (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time              timestamptz NOT NULL,
    duration_ns       bigint      NOT NULL DEFAULT 0,
    account           text        NOT NULL DEFAULT '',
    direction         text        NOT NULL DEFAULT '',
    severity          text        NOT NULL DEFAULT '',
    method            text        NOT NULL DEFAULT '',
    url               text        NOT NULL DEFAULT '',
    status            integer     NOT NULL DEFAULT 0,
    work_order_id     bigint      NOT NULL DEFAULT 0,
    work_order_number text        NOT NULL DEFAULT '',
    customer          text        NOT NULL DEFAULT '',
    message_id        text        NOT NULL DEFAULT '',
    request           text        NOT NULL DEFAULT '',
    response          text        NOT NULL DEFAULT '',
    error             text        NOT NULL DEFAULT ''
);
CREATE INDEX comm_log_time ON comm_log (time);
CREATE INDEX comm_log_work_order ON comm_log (work_order_id) WHERE work_order_id <> 0;

CREATE TABLE kv (
    plugin text  NOT NULL,
    key    text  NOT NULL,
    value  bytea NOT NULL,
    PRIMARY KEY (plugin, key)
);

CREATE TABLE watermarks (
    name  text PRIMARY KEY,
    value text NOT NULL
);
