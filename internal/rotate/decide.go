package rotate

import (
	"slices"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/state"
)

// ActionKind names one thing the engine does to a key. The values are
// stable: they appear in the plan, in logs and in --status.
type ActionKind string

// The actions of a Decision, in the order the engine executes them.
const (
	// ActResume finishes or compensates the rotation in flight.
	ActResume ActionKind = "resume"
	// ActRevoke revokes one superseded key, through the sink guard.
	ActRevoke ActionKind = "revoke"
	// ActRotate starts a new rotation.
	ActRotate ActionKind = "rotate"
	// ActKeepAlive uses the current key (and the keys in grace) at the
	// provider.
	ActKeepAlive ActionKind = "keepalive"
	// ActSweep looks up a provider-side name whose create had no definite
	// answer, and revokes the key if it exists.
	ActSweep ActionKind = "sweep"
	// ActCheckUsage asks the provider when a superseded key was last used
	// (revoke_when: unused).
	ActCheckUsage ActionKind = "check_usage"
	// ActSync writes the current credential to sink targets a reload added.
	ActSync ActionKind = "sync"
)

// Reasons of waits and of actions other than rotations.
const (
	ReasonInterrupted   Reason = "interrupted" // a rotation was left in flight
	ReasonGraceEnded    Reason = "grace_ended" // a superseded key's grace is over
	ReasonOperator      Reason = "operator"    // an operator asked for it
	ReasonInterval      Reason = "interval"    // the keep-alive interval has passed
	ReasonRetry         Reason = "retry"       // a failed step is retried
	ReasonUnknownName   Reason = "create_outcome_unknown"
	ReasonGrace         Reason = "grace"     // waits: the superseded key is in grace
	ReasonBackoff       Reason = "backoff"   // waits: a failure's backoff
	ReasonSchedule      Reason = "schedule"  // waits: the schedule's next time
	ReasonUnused        Reason = "unused"    // no use of the superseded key for `quiet`
	ReasonMaxGrace      Reason = "max_grace" // still in use at max_grace: revoked anyway
	ReasonInUse         Reason = "in_use"    // waits: the superseded key is still used
	ReasonUsageStale    Reason = "usage_unknown"
	ReasonAwaitingHooks Reason = "awaiting_hooks" // waits: a hook with block_revocation has not succeeded
	ReasonTargetsAdded  Reason = "targets_added"  // a reload added sink targets
)

// Action is one step due now.
type Action struct {
	Kind   ActionKind
	Reason Reason
	// KeyID is the provider key acted on: the rotation's new key (resume),
	// the superseded key (revoke), the current key (keepalive).
	KeyID string
	// Name is the provider-side name looked up (sweep).
	Name string
	// RevokeOld, with rotate or resume: once the rotation completes, every
	// superseded key is revoked (grace 0s, or an emergency by an operator),
	// still through the sink guard.
	RevokeOld bool
}

// Wait is something that is not due yet, and when it will be.
type Wait struct {
	Kind   ActionKind
	KeyID  string
	At     time.Time
	Reason Reason
}

// Decision is what is due for one key at one instant: the actions to take
// now, in order, and what waits for later. The engine executes Actions,
// the dry run prints them, --status and the metrics show Waits, and the
// scheduler sleeps until Next.
type Decision struct {
	Actions []Action
	Waits   []Wait
	// Next is the earliest time a wait ends; zero when nothing waits.
	Next time.Time
}

// Mode is what the caller asks of an evaluation beyond the policy.
type Mode struct {
	// Force rotates regardless of schedule, pause and backoff (--run-now,
	// an operator's rotate).
	Force bool
	// NoRotate starts no rotation (keys not selected by --run-now --key).
	NoRotate bool
	// IgnoreBackoff retries failed steps now instead of after their
	// backoff. It never makes an interval due: keep-alive still waits for
	// its interval, revocations for their grace.
	IgnoreBackoff bool
	// KeepAlive uses the current key now, whatever its interval.
	KeepAlive bool
	// RevokeSuperseded ends the grace of every superseded key now.
	RevokeSuperseded bool
	// Actor is who asks ("cli:alice", "http:ci"); empty for the schedule.
	// Note is the operator's reason text. Both go to the audit trail.
	Actor, Note string
}

// Decide is rotator's one decision: from the key's policy, its recorded
// state, what the caller asks and the time, the actions due now and what
// waits. It does no I/O and reads no clock.
func Decide(k config.Key, st state.Key, m Mode, now time.Time) Decision {
	var d Decision
	resuming := decideResume(&d, k, st, m, now)
	decideRevocations(&d, k, st, m, now)
	// After a resume the rotation is planned too: it is skipped when the
	// resume completes the interrupted rotation, and runs when the resume
	// had to abandon it (its secret was lost, or its create never landed).
	if st.Rotation == nil || resuming {
		decideRotation(&d, k, st, m, now)
	}
	if !d.has(ActResume) && !d.has(ActRotate) {
		decideSync(&d, st, m, now)
		decideKeepAlive(&d, k, st, m, now)
	}
	decideSweeps(&d, st, m, now)
	for _, w := range d.Waits {
		if d.Next.IsZero() || w.At.Before(d.Next) {
			d.Next = w.At
		}
	}
	return d
}

func (d *Decision) has(kind ActionKind) bool {
	return slices.ContainsFunc(d.Actions, func(a Action) bool { return a.Kind == kind })
}

// Action returns the first action of that kind, if any.
func (d Decision) Action(kind ActionKind) (Action, bool) {
	i := slices.IndexFunc(d.Actions, func(a Action) bool { return a.Kind == kind })
	if i < 0 {
		return Action{}, false
	}
	return d.Actions[i], true
}

// Wait returns the first wait of that kind, if any.
func (d Decision) Wait(kind ActionKind) (Wait, bool) {
	i := slices.IndexFunc(d.Waits, func(w Wait) bool { return w.Kind == kind })
	if i < 0 {
		return Wait{}, false
	}
	return d.Waits[i], true
}

// decideResume plans the rotation in flight, after its backoff. It
// reports whether it is resumed now.
func decideResume(d *Decision, k config.Key, st state.Key, m Mode, now time.Time) bool {
	rot := st.Rotation
	if rot == nil {
		return false
	}
	if !m.Force && !m.IgnoreBackoff && now.Before(st.NextAttemptAt) {
		d.Waits = append(d.Waits, Wait{Kind: ActResume, KeyID: rot.KeyID, At: st.NextAttemptAt, Reason: ReasonBackoff})
		return false
	}
	d.Actions = append(d.Actions, Action{Kind: ActResume, KeyID: rot.KeyID, Name: rot.KeyName, Reason: ReasonInterrupted,
		RevokeOld: k.Grace == 0 || m.RevokeSuperseded})
	return true
}

// decideRevocations plans each superseded key: revoked once its grace is
// over (or an operator ends it) and its backoff, if any, has passed.
func decideRevocations(d *Decision, k config.Key, st state.Key, m Mode, now time.Time) {
	for _, rt := range st.Retiring {
		switch {
		case m.RevokeSuperseded:
			d.Actions = append(d.Actions, Action{Kind: ActRevoke, KeyID: rt.ID, Reason: ReasonOperator})
		case now.Before(rt.RevokeAfter):
			d.Waits = append(d.Waits, Wait{Kind: ActRevoke, KeyID: rt.ID, At: rt.RevokeAfter, Reason: ReasonGrace})
		case !m.IgnoreBackoff && !m.Force && now.Before(rt.NextAttemptAt):
			d.Waits = append(d.Waits, Wait{Kind: ActRevoke, KeyID: rt.ID, At: rt.NextAttemptAt, Reason: ReasonBackoff})
		case len(rt.AwaitingHooks) > 0:
			decideAwaitingHooks(d, k, rt, now)
		case k.Revocation.Unused():
			decideUnused(d, k, rt, now)
		default:
			reason := ReasonGraceEnded
			if rt.Attempts > 0 {
				reason = ReasonRetry
			}
			d.Actions = append(d.Actions, Action{Kind: ActRevoke, KeyID: rt.ID, Reason: reason})
		}
	}
}

// decideRotation asks the policy chain whether a new rotation is due, and
// holds it back during a failure's backoff unless forced.
func decideRotation(d *Decision, k config.Key, st state.Key, m Mode, now time.Time) {
	if m.NoRotate {
		return
	}
	reason, rotate := DefaultChain.Evaluate(Input{Key: k, State: st, Now: now, Forced: m.Force})
	switch {
	case rotate && (m.Force || !now.Before(st.NextAttemptAt)):
		d.Actions = append(d.Actions, Action{Kind: ActRotate, Reason: reason, RevokeOld: k.Grace == 0 || m.RevokeSuperseded})
	case rotate:
		d.Waits = append(d.Waits, Wait{Kind: ActRotate, At: st.NextAttemptAt, Reason: ReasonBackoff})
	case reason == ReasonPaused:
	default:
		if next := NextRotation(k, st); !next.IsZero() {
			at, why := next, ReasonSchedule
			if st.NextAttemptAt.After(next) {
				at, why = st.NextAttemptAt, ReasonBackoff
			}
			d.Waits = append(d.Waits, Wait{Kind: ActRotate, At: at, Reason: why})
		}
	}
}

// decideKeepAlive uses the current key when its interval has passed, when
// a failed keep-alive's backoff is over (or ignored), or when asked. A
// key being rotated is not kept alive: the rotation tests the new one.
func decideKeepAlive(d *Decision, k config.Key, st state.Key, m Mode, now time.Time) {
	if st.Current == nil || k.KeepAlive <= 0 || st.Emergency != "" {
		return
	}
	next := NextKeepAlive(k, st)
	retrying := !st.KeepAliveRetryAt.IsZero()
	switch {
	case m.KeepAlive:
		d.Actions = append(d.Actions, Action{Kind: ActKeepAlive, KeyID: st.Current.ID, Reason: ReasonOperator})
	case retrying && (m.IgnoreBackoff || !now.Before(next)):
		d.Actions = append(d.Actions, Action{Kind: ActKeepAlive, KeyID: st.Current.ID, Reason: ReasonRetry})
	case !now.Before(next):
		d.Actions = append(d.Actions, Action{Kind: ActKeepAlive, KeyID: st.Current.ID, Reason: ReasonInterval})
	default:
		why := ReasonInterval
		if retrying {
			why = ReasonBackoff
		}
		d.Waits = append(d.Waits, Wait{Kind: ActKeepAlive, KeyID: st.Current.ID, At: next, Reason: why})
	}
}

// decideSync writes the current credential to targets a reload added, unless
// a rotation (which writes every target) runs anyway.
func decideSync(d *Decision, st state.Key, m Mode, now time.Time) {
	switch {
	case !st.SyncTargets || st.Current == nil:
	case m.IgnoreBackoff || !now.Before(st.SyncRetryAt):
		d.Actions = append(d.Actions, Action{Kind: ActSync, KeyID: st.Current.ID, Reason: ReasonTargetsAdded})
	default:
		d.Waits = append(d.Waits, Wait{Kind: ActSync, KeyID: st.Current.ID, At: st.SyncRetryAt, Reason: ReasonBackoff})
	}
}

// decideSweeps looks up, when their next check comes, the names of creates
// whose outcome is unknown.
func decideSweeps(d *Decision, st state.Key, m Mode, now time.Time) {
	for _, w := range st.Watch {
		if m.IgnoreBackoff || !now.Before(w.NextCheckAt) {
			d.Actions = append(d.Actions, Action{Kind: ActSweep, Name: w.Name, Reason: ReasonUnknownName})
			continue
		}
		d.Waits = append(d.Waits, Wait{Kind: ActSweep, At: w.NextCheckAt, Reason: ReasonUnknownName})
	}
}

// NextKeepAlive is when the current key is next to be used: after a failed
// keep-alive, its retry time; else the interval after the last use.
func NextKeepAlive(k config.Key, st state.Key) time.Time {
	if !st.KeepAliveRetryAt.IsZero() {
		return st.KeepAliveRetryAt
	}
	base := st.LastKeepAliveAt
	if base.IsZero() && st.Current != nil {
		base = st.Current.CreatedAt
	}
	return base.Add(k.KeepAlive)
}

// NextRotationOf is when the key's next rotation is due by its decision:
// now when it is due, the end of a failure's backoff, the schedule's next
// time, or zero for a paused key (never overdue) or a rotation in flight.
func NextRotationOf(k config.Key, st state.Key, now time.Time) time.Time {
	d := Decide(k, st, Mode{}, now)
	if _, ok := d.Action(ActRotate); ok {
		return now
	}
	if w, ok := d.Wait(ActRotate); ok {
		return w.At
	}
	return time.Time{}
}

// OrphanVerdict is what the orphan scan does with an active provider key
// that is named like a managed key.
type OrphanVerdict string

// The orphan verdicts.
const (
	OrphanKnown  OrphanVerdict = "known"  // the state tracks it: nothing to do
	OrphanAdopt  OrphanVerdict = "adopt"  // a sink hands it out: it becomes the current key
	OrphanRevoke OrphanVerdict = "revoke" // ours, never handed out: revoked through the guard
	OrphanReport OrphanVerdict = "report" // counted and logged, left alone
)

// DecideOrphan judges one provider key named like key k. heldBy is the sink
// target that holds it ("" when every target was read and none does);
// unreadable says some target could not be read. A key some sink holds is
// adopted, never revoked; a key created under a watched name is revoked;
// other orphans are revoked only with prune_orphans and once older than
// the rotation timeout (a create still in flight is not an orphan).
func DecideOrphan(k config.Key, st state.Key, info providers.KeyInfo, heldBy string, unreadable bool, now time.Time) OrphanVerdict {
	switch {
	case st.Current != nil && st.Current.ID == info.ID:
		return OrphanKnown
	case st.Rotation != nil && (st.Rotation.KeyID == info.ID || st.Rotation.KeyName == info.Name):
		return OrphanKnown
	case slices.ContainsFunc(st.Retiring, func(rt state.Retiring) bool { return rt.ID == info.ID }):
		return OrphanKnown
	case heldBy != "":
		return OrphanAdopt
	case unreadable:
		return OrphanReport
	case slices.ContainsFunc(st.Watch, func(w state.Watched) bool { return w.Name == info.Name }):
		return OrphanRevoke
	case k.PruneOrphans && !info.CreatedAt.IsZero() && now.Sub(info.CreatedAt) >= OrphanMinAge(k):
		return OrphanRevoke
	}
	return OrphanReport
}

// OrphanMinAge is how old an untracked key must be before prune_orphans
// revokes it: at least the rotation timeout, and never under ten minutes.
func OrphanMinAge(k config.Key) time.Duration {
	return max(k.Timeout, 10*time.Minute)
}

// decideUnused holds a superseded key past its grace until the provider
// reports no use of it for `quiet` since it was superseded, asking the
// provider again every UsageRecheck; at max_grace it is revoked anyway,
// or kept with on_max_grace: keep (and the alert fires).
func decideUnused(d *Decision, k config.Key, rt state.Retiring, now time.Time) {
	rv := k.Revocation
	since := SupersededAt(k, rt)
	if maxAt := since.Add(rv.MaxGrace); !now.Before(maxAt) {
		if rv.OnMaxGrace != config.OnMaxGraceKeep {
			d.Actions = append(d.Actions, Action{Kind: ActRevoke, KeyID: rt.ID, Reason: ReasonMaxGrace})
		}
		return
	}
	quietFrom := maxTime(rt.LastUsedAt, since)
	quietAt := quietFrom.Add(rv.Quiet)
	// The last report proves quiet if it was taken once quiet had lasted
	// long enough, and recently.
	proves := !rt.UsageCheckedAt.Before(quietAt) && now.Sub(rt.UsageCheckedAt) < UsageRecheck(rv.Quiet)
	switch {
	case proves:
		d.Actions = append(d.Actions, Action{Kind: ActRevoke, KeyID: rt.ID, Reason: ReasonUnused})
	case !now.Before(quietAt):
		d.Actions = append(d.Actions, Action{Kind: ActCheckUsage, KeyID: rt.ID, Reason: ReasonUsageStale})
	default:
		// Used too recently by the last report: ask again when it could
		// have been quiet long enough.
		d.Waits = append(d.Waits, Wait{Kind: ActCheckUsage, KeyID: rt.ID, At: minTime(quietAt, since.Add(rv.MaxGrace)), Reason: ReasonInUse})
	}
}

// decideAwaitingHooks holds a superseded key whose hooks with
// block_revocation have not yet succeeded (the consumers were not yet
// restarted), until max_grace.
func decideAwaitingHooks(d *Decision, k config.Key, rt state.Retiring, now time.Time) {
	maxAt := SupersededAt(k, rt).Add(k.Revocation.MaxGrace)
	switch {
	case now.Before(maxAt):
		d.Waits = append(d.Waits, Wait{Kind: ActRevoke, KeyID: rt.ID, At: maxAt, Reason: ReasonAwaitingHooks})
	case k.Revocation.OnMaxGrace != config.OnMaxGraceKeep:
		d.Actions = append(d.Actions, Action{Kind: ActRevoke, KeyID: rt.ID, Reason: ReasonMaxGrace})
	}
}

// SupersededAt is when a retiring key was superseded.
func SupersededAt(k config.Key, rt state.Retiring) time.Time {
	if !rt.SupersededAt.IsZero() {
		return rt.SupersededAt
	}
	return rt.RevokeAfter.Add(-k.Grace)
}

// UsageRecheck is how long a provider's report of a key's last use is
// trusted before a revocation: a quarter of quiet, between 1s and 5
// minutes. A superseded key costs one request per quiet period while it is
// used, and one more before it is revoked.
func UsageRecheck(quiet time.Duration) time.Duration {
	return min(max(quiet/4, time.Second), 5*time.Minute)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
