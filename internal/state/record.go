package state

import "time"

// Key is everything the daemon remembers about one managed key. It holds
// provider key ids and names, never a credential.
type Key struct {
	Name string `json:"name"`
	// Current is the key consumers should be using; nil before the first
	// rotation.
	Current *ProviderKey `json:"current,omitempty"`
	// Rotation is the rotation in flight, recorded before each side effect
	// so that a crash is resumed or compensated at the next start.
	Rotation *Rotation `json:"rotation,omitempty"`
	// Retiring are superseded keys waiting for their revocation deadline.
	Retiring []Retiring `json:"retiring,omitempty"`

	// LastSuccessAt is when the last rotation completed.
	LastSuccessAt time.Time `json:"last_success_at,omitzero"`
	// LastAttemptAt is when the last rotation attempt started.
	LastAttemptAt time.Time `json:"last_attempt_at,omitzero"`
	// Failures counts consecutive failed rotation attempts; NextAttemptAt is
	// when the backoff allows the next one.
	Failures      int       `json:"failures,omitempty"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	// LastError is the last failure's message (never a secret).
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Emergency is set when the current key was found revoked or rejected
	// by the provider: the next evaluation rotates at once.
	Emergency string `json:"emergency,omitempty"`

	LastKeepAliveAt   time.Time `json:"last_keepalive_at,omitzero"`
	KeepAliveFailures int       `json:"keepalive_failures,omitempty"`
	// KeepAliveRetryAt is when a failed keep-alive is retried.
	KeepAliveRetryAt time.Time `json:"keepalive_retry_at,omitzero"`
	// LastUsedAt is the provider's last-use time of the current key.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// Rotations counts completed rotations.
	Rotations int `json:"rotations,omitempty"`
	// SyncTargets is set when a reload added sink targets to the key: the
	// current credential is written to them without a rotation; a failed
	// sync is retried at SyncRetryAt.
	SyncTargets bool      `json:"sync_targets,omitempty"`
	SyncRetryAt time.Time `json:"sync_retry_at,omitzero"`
	// Paused, when set, stops scheduled rotations (an operator's pause;
	// keep-alive and due revocations go on).
	Paused *Pause `json:"paused,omitempty"`
	// Watch holds the provider-side names of creates that got no definite
	// answer (a timeout, a dropped connection, a 502 or 504): the key may
	// exist although its secret is lost, so a key that appears under one of
	// these names is revoked.
	Watch []Watched `json:"watch,omitempty"`
	// Targets are the sink targets of the last policy that managed the key
	// (retired.go): once the key leaves the policy, `rotator retire` reads
	// them before it revokes the key's provider keys.
	Targets []Target `json:"targets,omitempty"`
	// Retired is set when an operator retired the key: its provider keys
	// are revoked and the record is kept only for its audit trail.
	Retired *Pause `json:"retired,omitempty"`
}

// Watched is the name of a create whose outcome is unknown.
type Watched struct {
	Provider string    `json:"provider"`
	Name     string    `json:"name"`
	Since    time.Time `json:"since"`
	// NextCheckAt is when the name is next looked up; Until is when the
	// watch ends (a create held back longer than that is left to the
	// orphan scan).
	NextCheckAt time.Time `json:"next_check_at"`
	Until       time.Time `json:"until"`
	// Checks counts the look-ups that found nothing (or failed), for the
	// backoff between them.
	Checks int `json:"checks,omitempty"`
}

// ProviderKey identifies a key at a provider.
type ProviderKey struct {
	Provider  string    `json:"provider"`
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Step is how far a rotation got. Each step is recorded before the side
// effect of the next.
type Step string

// The rotation steps.
const (
	// StepIntent: the provider-side name is chosen; Create may or may not
	// have happened.
	StepIntent Step = "intent"
	// StepCreated: the key exists at the provider (KeyID known); sinks may
	// hold it partly.
	StepCreated Step = "created"
	// StepWritten: every sink holds the new key.
	StepWritten Step = "written"
)

// Rotation is a rotation in flight.
type Rotation struct {
	// ID is the rotation's id (a UUID), the same across retries; Secrets
	// Manager uses it as ClientRequestToken.
	ID        string    `json:"id"`
	Step      Step      `json:"step"`
	Provider  string    `json:"provider"`
	KeyName   string    `json:"key_name"`
	KeyID     string    `json:"key_id,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	StartedAt time.Time `json:"started_at"`
	Reason    string    `json:"reason"`
	// Versions maps a target (by its description) to the version written.
	Versions map[string]string `json:"versions,omitempty"`
}

// Retiring is a superseded key waiting to be revoked.
type Retiring struct {
	ProviderKey
	RevokeAfter time.Time `json:"revoke_after"`
	// SupersededAt is when every sink came to hold the new key (zero in
	// records written before it was kept: RevokeAfter less the grace).
	SupersededAt time.Time `json:"superseded_at,omitzero"`
	// LastUsedAt is the newest use of this key the provider reported, and
	// UsageCheckedAt when it was last asked (revoke_when: unused).
	LastUsedAt     time.Time `json:"last_used_at,omitzero"`
	UsageCheckedAt time.Time `json:"usage_checked_at,omitzero"`
	// SupersededBy is the id of the key that replaced this one; AwaitingHooks
	// are the hooks with block_revocation that have not yet succeeded for
	// that key's converged event: the revocation waits for them, within
	// max_grace.
	SupersededBy  string    `json:"superseded_by,omitempty"`
	AwaitingHooks []string  `json:"awaiting_hooks,omitempty"`
	Attempts      int       `json:"attempts,omitempty"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
}
