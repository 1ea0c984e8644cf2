package rotate

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/state"
)

// revokeDue revokes the superseded keys whose deadline has passed. A key
// is revoked only after every sink was read and none still holds it; a
// failure is retried with capped exponential backoff until it succeeds.
func (e *Engine) revokeDue(ctx context.Context, r *keyRunner, st *state.Key, ignoreBackoff bool) (int, error) {
	if len(st.Retiring) == 0 || e.draining.Load() {
		return 0, nil
	}
	k := r.k.Policy
	ctx, cancel := context.WithTimeoutCause(ctx, k.Timeout, fmt.Errorf("revocation timeout (%s) reached", k.Timeout))
	defer cancel()
	now := e.clock.Now()
	var errs []error
	keep := st.Retiring[:0:0]
	revoked, attempted := 0, 0
	for _, rt := range st.Retiring {
		if now.Before(rt.RevokeAfter) || (!ignoreBackoff && now.Before(rt.NextAttemptAt)) {
			keep = append(keep, rt)
			continue
		}
		attempted++
		err := e.revokeOne(ctx, r, rt)
		e.m.revocationDone(k.Name, err)
		if err != nil {
			rt.Attempts++
			rt.NextAttemptAt = now.Add(e.backoff(rt.Attempts))
			rt.LastError = err.Error()
			keep = append(keep, rt)
			errs = append(errs, fmt.Errorf("revoke %s: %w", rt.ID, err))
			r.log.Error("revocation failed; it will be retried", zap.String("old_key_id", rt.ID), zap.Error(err),
				zap.Int("attempts", rt.Attempts), zap.Time("next_attempt", rt.NextAttemptAt))
			continue
		}
		revoked++
		r.log.Info("old key revoked", zap.String("old_key_id", rt.ID), zap.String("old_key_name", rt.Name),
			zap.Duration("overdue_by", now.Sub(rt.RevokeAfter)))
	}
	if attempted == 0 {
		return 0, nil // nothing was due: no state write
	}
	st.Retiring = keep
	if err := e.put(st); err != nil {
		errs = append(errs, err)
	}
	return revoked, errors.Join(errs...)
}

func (e *Engine) revokeOne(ctx context.Context, r *keyRunner, rt state.Retiring) error {
	holder, err := e.sinkHolding(ctx, r, rt.ID, "")
	if err != nil {
		return fmt.Errorf("not revoked, since not every sink could be checked: %w", err)
	}
	if holder != "" {
		return fmt.Errorf("not revoked: %s still holds this key", holder)
	}
	p, err := e.providerFor(r, rt.Provider)
	if err != nil {
		return err
	}
	e.failpoint("before-revoke")
	err = p.Revoke(ctx, rt.ID)
	e.failpoint("after-revoke")
	return err
}
