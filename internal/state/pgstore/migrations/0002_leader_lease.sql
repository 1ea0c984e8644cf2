-- Leadership leases (package leader). token increases on every acquisition
-- and is the fencing token every leader write is checked against; expires_at
-- is set from the database's clock (now()), so replicas' clocks need not
-- agree.
CREATE TABLE leader_lease (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    token       bigint NOT NULL,
    acquired_at timestamptz NOT NULL,
    renewed_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
