-- wogate store schema, version 1 (SQLite).
-- Times are INTEGER microseconds since the Unix epoch, UTC; 0 means unset.
-- AUTOINCREMENT keeps ids strictly increasing even after pruning, which the
-- per-work-order ordering of actions relies on.

CREATE TABLE events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    account        TEXT    NOT NULL,
    message_id     TEXT    NOT NULL,
    work_order_id  INTEGER NOT NULL DEFAULT 0,
    action         TEXT    NOT NULL DEFAULT '',
    action_date    INTEGER NOT NULL DEFAULT 0,
    received_at    INTEGER NOT NULL,
    source         TEXT    NOT NULL DEFAULT '',
    plugin         TEXT    NOT NULL DEFAULT '',
    body           BLOB,
    status         TEXT    NOT NULL CHECK (status IN ('pending','done','dead','parked','ignored')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_at        INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT    NOT NULL DEFAULT '',
    decision       BLOB,
    config_version TEXT    NOT NULL DEFAULT '',
    handled_at     INTEGER NOT NULL DEFAULT 0,
    lease_owner    TEXT    NOT NULL DEFAULT '',
    lease_until    INTEGER NOT NULL DEFAULT 0,
    updated_at     INTEGER NOT NULL,
    UNIQUE (account, message_id)
);
-- The lanes: pending events per work order in dispatch order.
CREATE INDEX events_lane ON events (account, work_order_id, action_date, id) WHERE status = 'pending';
CREATE INDEX events_work_order ON events (account, work_order_id);
CREATE INDEX events_status ON events (status, updated_at);

CREATE TABLE actions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        INTEGER NOT NULL REFERENCES events (id),
    idempotency_key TEXT    NOT NULL UNIQUE,
    account         TEXT    NOT NULL,
    work_order_id   INTEGER NOT NULL DEFAULT 0,
    rule            TEXT    NOT NULL DEFAULT '',
    plugin          TEXT    NOT NULL DEFAULT '',
    kind            TEXT    NOT NULL DEFAULT '',
    payload         BLOB,
    created_at      INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending','sent','refused','dead','parked','ignored','shadow')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    sent_at         INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX actions_lane ON actions (account, work_order_id, id) WHERE status = 'pending';
CREATE INDEX actions_event ON actions (event_id);
CREATE INDEX actions_work_order ON actions (account, work_order_id);
CREATE INDEX actions_status ON actions (status, updated_at);

CREATE TABLE comm_log (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    time              INTEGER NOT NULL,
    duration_ns       INTEGER NOT NULL DEFAULT 0,
    account           TEXT    NOT NULL DEFAULT '',
    direction         TEXT    NOT NULL DEFAULT '',
    severity          TEXT    NOT NULL DEFAULT '',
    method            TEXT    NOT NULL DEFAULT '',
    url               TEXT    NOT NULL DEFAULT '',
    status            INTEGER NOT NULL DEFAULT 0,
    work_order_id     INTEGER NOT NULL DEFAULT 0,
    work_order_number TEXT    NOT NULL DEFAULT '',
    customer          TEXT    NOT NULL DEFAULT '',
    message_id        TEXT    NOT NULL DEFAULT '',
    request           TEXT    NOT NULL DEFAULT '',
    response          TEXT    NOT NULL DEFAULT '',
    error             TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX comm_log_time ON comm_log (time);
CREATE INDEX comm_log_work_order ON comm_log (work_order_id) WHERE work_order_id <> 0;

CREATE TABLE kv (
    plugin TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  BLOB NOT NULL,
    PRIMARY KEY (plugin, key)
) WITHOUT ROWID;

CREATE TABLE watermarks (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
