package rotate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/state"
)

// revocation is one provider key to revoke and what asks for it.
type revocation struct {
	// Provider is the configured provider name the key lives at ("" for the
	// key's own provider).
	Provider string
	ID, Name string
	// RotationID, for the new key of a rotation in flight, makes the guard
	// read what that rotation staged too.
	RotationID string
	// Done is the log message once the key is revoked: it says what the
	// key was ("old key revoked", "orphaned key found and revoked", ...).
	Done string
}

// revokeGuarded is the one way rotator revokes a provider key, whatever
// asks for it (a grace that ended, an operator, an abandoned rotation, a
// late create, the orphan scan). It first reads every sink target of the
// key and refuses while any target holds the key or cannot be read: a key
// that some consumer may be handed is never revoked. A key the provider
// no longer has counts as revoked.
func (e *Engine) revokeGuarded(ctx context.Context, r *keyRunner, rv revocation) error {
	holder, err := e.sinkHolding(ctx, r, rv.ID, rv.RotationID)
	if err != nil {
		return fmt.Errorf("not revoked, since not every sink could be checked: %w", err)
	}
	if holder != "" {
		return fmt.Errorf("not revoked: %s still holds this key", holder)
	}
	p, err := e.providerFor(r, rv.Provider)
	if err != nil {
		return err
	}
	if err := e.mayAct(ctx); err != nil {
		return err
	}
	e.failpoint("before-revoke")
	err = p.Revoke(ctx, rv.ID)
	e.failpoint("after-revoke")
	e.record(r, "revoked", err, state.Event{KeyID: rv.ID})
	if err != nil {
		return err
	}
	r.log.Info(rv.Done, zap.String("revoked_key_id", rv.ID), zap.String("revoked_key_name", rv.Name))
	return nil
}

// revokeRetiring revokes one superseded key through the guard and records
// the outcome: gone from Retiring, or its failure and backoff.
func (e *Engine) revokeRetiring(ctx context.Context, r *keyRunner, st *state.Key, id string, atMaxGrace bool) error {
	i := slices.IndexFunc(st.Retiring, func(rt state.Retiring) bool { return rt.ID == id })
	if i < 0 {
		return nil // revoked earlier in this pass
	}
	k := r.k.Policy
	ctx, cancel := context.WithTimeoutCause(ctx, k.Timeout, fmt.Errorf("revocation timeout (%s) reached", k.Timeout))
	defer cancel()
	rt := st.Retiring[i]
	now := e.clock.Now()
	err := e.revokeGuarded(ctx, r, revocation{Provider: rt.Provider, ID: rt.ID, Name: rt.Name, Done: "old key revoked"})
	if atMaxGrace && err == nil {
		e.m.revocationAtMaxGrace(k.Name)
	} else {
		e.m.revocationDone(k.Name, err)
	}
	if err != nil {
		rt.Attempts++
		rt.NextAttemptAt = now.Add(e.backoff(rt.Attempts))
		rt.LastError = err.Error()
		st.Retiring[i] = rt
		r.log.Error("revocation failed; it will be retried", zap.String("old_key_id", rt.ID), zap.Error(err),
			zap.Int("attempts", rt.Attempts), e.nextAttempt(rt.NextAttemptAt))
	} else {
		st.Retiring = slices.Delete(st.Retiring, i, i+1)
		e.notify(r, HookEvent{Event: config.EventRevoked, KeyID: rt.ID, OldKeyIDs: oldIDs(st)})
	}
	if perr := e.put(st); perr != nil {
		return errors.Join(err, perr)
	}
	if err != nil {
		return fmt.Errorf("revoke %s: %w", id, err)
	}
	return nil
}

// Leadership says whether this replica still holds the lease.
type Leadership interface {
	Check(ctx context.Context) error
}

// errNotLeader stops a step when this replica lost the lease: the new
// leader resumes it from the shared state.
var errNotLeader = errors.New("no longer the leader")

// mayAct is asked before every side effect at a provider or a sink.
func (e *Engine) mayAct(ctx context.Context) error {
	if e.o.Leadership == nil {
		return nil
	}
	if err := e.o.Leadership.Check(ctx); err != nil {
		return fmt.Errorf("%w: %w", errNotLeader, err)
	}
	return nil
}

// nextAttempt is the log field that says when a failed step is tried
// again. The daemon (Serve) retries it at that time; a one-shot process
// (run-now, a control command when no daemon runs) exits before then, so
// rather than announce a time nobody keeps it says the next run retries it.
func (e *Engine) nextAttempt(at time.Time) zap.Field {
	if e.sched.Load() != nil {
		return zap.Time("next_attempt", at)
	}
	return zap.String("retry", "at the next run (this process does not retry)")
}
