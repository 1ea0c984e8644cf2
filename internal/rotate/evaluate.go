package rotate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/state"
)

// Outcome is what one evaluation did.
type Outcome struct {
	Rotated   bool
	Reason    Reason
	Revoked   int
	KeptAlive bool
	// Next is when the key next needs attention.
	Next time.Time
	// Actions are the actions of the evaluation's Decision, in order, each
	// with what became of it.
	Actions []ActionResult
}

// ActionResult is one executed (or skipped) action.
type ActionResult struct {
	Action
	Err error
	// Skipped says why the action was not attempted ("" when it was).
	Skipped string
}

// errDraining stops work between steps once shutdown began.
var errDraining = errors.New("shutting down")

// idleWake is when a key with nothing scheduled is looked at again.
const idleWake = 24 * time.Hour

// Evaluate runs one level-triggered pass over a key: it reads the key's
// state, asks Decide what is due, and executes exactly that. It returns
// every failure joined.
func (e *Engine) Evaluate(ctx context.Context, name string, mode Mode) (Outcome, error) {
	r := e.runner(name)
	if r == nil {
		return Outcome{}, fmt.Errorf("%s: %w", name, ErrUnknownKey)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := e.o.Store.Get(name)
	if err != nil {
		return Outcome{Next: e.clock.Now().Add(e.o.RetryBase)}, err
	}
	if e.noteTargets(r, &st) && !st.Idle() { // else the rotation's first write records them
		if err := e.put(&st); err != nil {
			return Outcome{Next: e.clock.Now().Add(e.o.RetryBase)}, err
		}
	}
	d := Decide(r.k.Policy, st, mode, e.clock.Now())
	r.actor, r.reason, r.note = mode.actor(), "", mode.Note
	out := e.execute(ctx, r, &st, d)
	var errs []error
	for _, a := range out.Actions {
		if a.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.describe(), a.Err))
		}
	}
	e.export(r, st)
	out.Next = e.nextWake(r, st)
	return out, errors.Join(errs...)
}

// nextWake is when the key next needs attention, by the same decision: at
// once when something became due during the pass (a keep-alive that found
// the key revoked calls for an emergency rotation).
func (e *Engine) nextWake(r *keyRunner, st state.Key) time.Time {
	now := e.clock.Now()
	d := Decide(r.k.Policy, st, Mode{}, now)
	switch {
	case len(d.Actions) > 0:
		return now
	case d.Next.IsZero():
		return now.Add(idleWake)
	}
	return d.Next
}

// execute carries out a decision's actions in order. A failed resume
// holds back the rotation that was to follow it.
func (e *Engine) execute(ctx context.Context, r *keyRunner, st *state.Key, d Decision) Outcome {
	var out Outcome
	blocked := ""
	for _, a := range d.Actions {
		res := ActionResult{Action: a}
		r.reason = eventReason(a.Reason)
		switch {
		case e.draining.Load():
			res.Skipped = errDraining.Error()
		case a.Kind == ActRotate && blocked != "":
			res.Skipped = blocked
		case a.Kind == ActRotate && out.Rotated:
			res.Skipped = "the interrupted rotation completed"
		case a.Kind == ActRotate && st.Rotation != nil:
			res.Skipped = "a rotation is still in flight"
		default:
			res.Err = e.act(ctx, r, st, a, &out)
			if res.Err != nil && a.Kind == ActResume {
				blocked = "the interrupted rotation could not be resumed"
			}
		}
		out.Actions = append(out.Actions, res)
	}
	return out
}

// act executes one action.
func (e *Engine) act(ctx context.Context, r *keyRunner, st *state.Key, a Action, out *Outcome) error {
	switch a.Kind {
	case ActResume:
		reason := Reason(st.Rotation.Reason)
		done, err := e.resume(ctx, r, st)
		if err != nil {
			e.rotationFailed(r, st, err)
			return err
		}
		if !done {
			return nil
		}
		out.Rotated, out.Reason = true, reason
		if a.RevokeOld {
			return e.revokeSuperseded(ctx, r, st, out)
		}
		return nil
	case ActRevoke:
		if a.Reason == ReasonMaxGrace {
			r.log.Error("superseded key still in use at max_grace: revoking it anyway (on_max_grace: keep would keep it)",
				zap.String("old_key_id", a.KeyID), zap.Duration("max_grace", r.k.Policy.Revocation.MaxGrace))
		}
		err := e.revokeRetiring(ctx, r, st, a.KeyID, a.Reason == ReasonMaxGrace)
		if err == nil {
			out.Revoked++
		}
		return err
	case ActRotate:
		return e.rotateAction(ctx, r, st, a, out)
	case ActKeepAlive:
		ok, err := e.keepAliveNow(ctx, r, st)
		out.KeptAlive = ok
		return err
	case ActSweep:
		return e.sweep(ctx, r, st, a.Name)
	case ActCheckUsage:
		return e.checkUsage(ctx, r, st, a.KeyID)
	case ActSync:
		return e.syncTargets(ctx, r, st)
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}

// rotateAction starts a rotation and, when the action says so, revokes
// every superseded key once every sink holds the new one.
func (e *Engine) rotateAction(ctx context.Context, r *keyRunner, st *state.Key, a Action, out *Outcome) error {
	if a.Reason == ReasonEmergency {
		r.log.Error("rotating now: the provider no longer accepts the current key", zap.String("cause", st.Emergency))
	}
	if a.Reason == ReasonEmergency || a.RevokeOld && r.k.Policy.Grace > 0 {
		e.m.emergencyRotation(r.k.Policy.Name, emergencyTrigger(a))
		e.notify(r, HookEvent{Event: config.EventEmergency, KeyID: currentID(st), OldKeyIDs: oldIDs(st), Trigger: emergencyTrigger(a)})
	}
	if err := e.rotate(ctx, r, st, a.Reason); err != nil {
		return err
	}
	out.Rotated, out.Reason = true, a.Reason
	if !a.RevokeOld {
		return nil
	}
	return e.revokeSuperseded(ctx, r, st, out)
}

// revokeSuperseded revokes every superseded key now, each through the
// guard.
func (e *Engine) revokeSuperseded(ctx context.Context, r *keyRunner, st *state.Key, out *Outcome) error {
	var errs []error
	for _, rt := range append([]state.Retiring(nil), st.Retiring...) {
		if err := e.revokeRetiring(ctx, r, st, rt.ID, false); err != nil {
			errs = append(errs, fmt.Errorf("revoke superseded key %s: %w", rt.ID, err))
			continue
		}
		out.Revoked++
	}
	return errors.Join(errs...)
}

// describe names an action in an error.
func (a Action) describe() string {
	switch {
	case a.KeyID != "":
		return string(a.Kind) + " " + a.KeyID
	case a.Name != "":
		return string(a.Kind) + " " + a.Name
	}
	return string(a.Kind)
}
