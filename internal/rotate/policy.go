package rotate

import (
	"hash/fnv"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/state"
)

// Reason says why a key is (or is not) rotated. The values are stable: they
// appear in logs, the plan and --status.
type Reason string

// The reasons of the default rule chain, in the order they are checked.
const (
	ReasonForced      Reason = "forced"       // --run-now selected the key
	ReasonPaused      Reason = "paused"       // the key is paused: no rotation (not a trigger)
	ReasonNoKey       Reason = "no_key"       // the key has never been rotated
	ReasonEmergency   Reason = "emergency"    // the provider revoked or rejected the current key
	ReasonScheduleDue Reason = "schedule_due" // the schedule's time has come
)

// Input is everything a rule looks at. Rules never do I/O: Decide asks the
// chain whether a rotation is due.
type Input struct {
	Key   config.Key
	State state.Key
	Now   time.Time
	// Forced is set for keys selected by --run-now.
	Forced bool
}

// Rule decides whether one condition calls for a rotation. It returns
// done=true when it settles the question (rotate or not); otherwise the
// next rule of the chain is asked.
type Rule func(Input) (reason Reason, rotate, done bool)

// Chain evaluates rules in order; the first that is done decides.
type Chain []Rule

// DefaultChain is the rotation decision of rotator.
var DefaultChain = Chain{Forced, Paused, NoCurrentKey, Emergency, ScheduleDue}

// Evaluate returns whether to rotate and why.
func (c Chain) Evaluate(in Input) (Reason, bool) {
	for _, p := range c {
		if r, rotate, done := p(in); done {
			return r, rotate
		}
	}
	return "", false
}

// Forced rotates keys selected by --run-now, whatever their schedule.
func Forced(in Input) (Reason, bool, bool) {
	if in.Forced {
		return ReasonForced, true, true
	}
	return "", false, false
}

// Paused vetoes every other trigger for a key paused in the policy or by
// an operator.
func Paused(in Input) (Reason, bool, bool) {
	if in.Key.Paused || in.State.Paused != nil {
		return ReasonPaused, false, true
	}
	return "", false, false
}

// NoCurrentKey rotates a key that has no current provider key yet.
func NoCurrentKey(in Input) (Reason, bool, bool) {
	if in.State.Current == nil {
		return ReasonNoKey, true, true
	}
	return "", false, false
}

// Emergency rotates at once when the current key was found revoked or
// rejected by the provider.
func Emergency(in Input) (Reason, bool, bool) {
	if in.State.Emergency != "" {
		return ReasonEmergency, true, true
	}
	return "", false, false
}

// ScheduleDue rotates when the schedule's next time after the last success
// (plus the key's jitter) has passed. A time missed while the daemon was
// down is therefore caught up at the next evaluation.
func ScheduleDue(in Input) (Reason, bool, bool) {
	if next := NextRotation(in.Key, in.State); !next.IsZero() && !in.Now.Before(next) {
		return ReasonScheduleDue, true, true
	}
	return "", false, true
}

// NextRotation is when the schedule calls for the next rotation: the
// schedule's next time after the last successful rotation (or the current
// key's creation), delayed by the key's jitter. It is zero when the key has
// no current key (rotation is due now).
func NextRotation(k config.Key, st state.Key) time.Time {
	if st.Current == nil || k.Schedule == nil {
		return time.Time{}
	}
	base := st.LastSuccessAt
	if base.IsZero() {
		base = st.Current.CreatedAt
	}
	next := k.Schedule.Next(base)
	return next.Add(jitterFor(k.Name, next, k.Jitter))
}

// jitterFor is a delay in [0, max) that depends only on the key and the
// scheduled time, so that a restart does not re-roll it and keys sharing a
// schedule spread out.
func jitterFor(name string, at time.Time, max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	var b [8]byte
	u := uint64(at.Unix())
	for i := range b {
		b[i] = byte(u >> (8 * i))
	}
	h.Write(b[:])
	return time.Duration(h.Sum64() % uint64(max))
}
