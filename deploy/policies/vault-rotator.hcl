# Least-privilege Vault policy for rotator's vault sink with the default
# mounts (KV v2 at secret/, and a KV v1 mount at kv1/ if you use one).
# Narrow the paths to the ones your keys' targets name.

# KV v2: read the current version (check-and-set), write new versions.
path "secret/data/*" {
  capabilities = ["create", "read", "update"]
}

# KV v2: record custom_metadata (rotator_key_id, rotator_key_name,
# rotated_at, managed_by) with a JSON merge patch.
path "secret/metadata/*" {
  capabilities = ["patch"]
}

# KV v1
path "kv1/*" {
  capabilities = ["create", "read", "update"]
}

# Not needed: the default policy already lets a token look itself up
# (auth/token/lookup-self), renew itself (auth/token/renew-self) and ask
# sys/capabilities-self, which Check uses.
