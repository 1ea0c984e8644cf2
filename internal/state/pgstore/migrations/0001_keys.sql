-- One row per managed key: the JSON-encoded state.Key (key ids and names,
-- never a credential). json, not jsonb: jsonb refuses the \u0000 escape that
-- a provider's error message may carry, and the record is only ever read
-- whole.
CREATE TABLE keys (
    name       text PRIMARY KEY,
    record     json NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
