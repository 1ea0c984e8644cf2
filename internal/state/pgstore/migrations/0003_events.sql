-- The audit trail (state.Event, never a secret): the newest
-- state.DefaultHistory events of each key. time_ns is the event's time in
-- Unix nanoseconds, exact, for the since filter and the order.
CREATE TABLE events (
    key     text NOT NULL,
    seq     bigint GENERATED ALWAYS AS IDENTITY,
    time_ns bigint NOT NULL,
    event   json NOT NULL,
    PRIMARY KEY (key, seq)
);
CREATE INDEX events_time ON events (time_ns);
