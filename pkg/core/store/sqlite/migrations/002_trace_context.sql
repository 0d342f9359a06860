-- wogate store schema, version 2 (SQLite): the W3C trace context
-- (a traceparent header value) of the span that stored an event or an
-- action, so dispatch and egress continue the webhook's trace. NULL when
-- tracing was off or the event started no trace (polling, reconciliation).
ALTER TABLE events ADD COLUMN trace_parent TEXT;
ALTER TABLE actions ADD COLUMN trace_parent TEXT;
