package state

import (
	"slices"
	"strings"
	"time"
)

// Event is one entry of a key's audit trail: what was done to the key, by
// whom, why, and with what result. It holds provider key ids, never a
// credential.
type Event struct {
	Time time.Time `json:"time"`
	Key  string    `json:"key"`
	// Action is what happened: rotation_started, created, verified,
	// written, promoted, revoked, keepalive, paused, resumed, adopted,
	// reload, rotation_failed, ...
	Action string `json:"action"`
	// Actor is who asked: "schedule", "cli:<unix user>", "http:<token name>".
	Actor string `json:"actor"`
	// Reason is why: schedule, operator, emergency, recovery,
	// provider_rejected, ...
	Reason string `json:"reason"`
	// Result is "ok" or "failed"; Error says why it failed.
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
	// KeyID is the provider key acted on; OldKeyIDs are the superseded keys
	// at the time.
	KeyID     string   `json:"key_id,omitempty"`
	OldKeyIDs []string `json:"old_key_ids,omitempty"`
	// Note is the operator's free text (rotate --reason, pause --reason).
	Note string `json:"note,omitempty"`
}

// Pause is an operator's pause of a key's scheduled rotations.
type Pause struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
}

// DefaultHistory is how many events are kept per key.
const DefaultHistory = 200

// sortEvents orders events by time, then key, stably.
func sortEvents(evs []Event) {
	slices.SortStableFunc(evs, func(a, b Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
}
