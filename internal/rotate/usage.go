package rotate

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/state"
)

// checkUsage asks the provider when a superseded key was last used
// (revoke_when: unused) and records the answer; Decide revokes the key once
// a fresh answer shows it quiet. A key the provider no longer has counts as
// revoked.
func (e *Engine) checkUsage(ctx context.Context, r *keyRunner, st *state.Key, id string) error {
	i := slices.IndexFunc(st.Retiring, func(rt state.Retiring) bool { return rt.ID == id })
	if i < 0 {
		return nil
	}
	k := r.k.Policy
	ctx, cancel := context.WithTimeoutCause(ctx, k.Timeout, fmt.Errorf("usage check timeout (%s) reached", k.Timeout))
	defer cancel()
	rt := &st.Retiring[i]
	p, err := e.providerFor(r, rt.Provider)
	var info providers.KeyInfo
	if err == nil {
		info, err = p.Get(ctx, id)
	}
	now := e.clock.Now()
	switch {
	case providers.IsNotFound(err) || (err == nil && !info.Active):
		r.log.Warn("superseded key is already gone at the provider", zap.String("old_key_id", id))
		st.Retiring = slices.Delete(st.Retiring, i, i+1)
		err = nil
	case err != nil:
		rt.Attempts++
		rt.NextAttemptAt = now.Add(e.backoff(rt.Attempts))
		rt.LastError = err.Error()
		r.log.Error("usage check of a superseded key failed; it will be retried", zap.String("old_key_id", id), zap.Error(err),
			e.nextAttempt(rt.NextAttemptAt))
		err = fmt.Errorf("usage of %s: %w", id, err)
	default:
		rt.UsageCheckedAt = now
		if info.LastUsedAt.After(rt.LastUsedAt) {
			rt.LastUsedAt = info.LastUsedAt
		}
		rt.Attempts, rt.NextAttemptAt, rt.LastError = 0, time.Time{}, ""
		if used := rt.LastUsedAt; used.After(rt.RevokeAfter) {
			r.log.Warn("superseded key still in use after its grace; its revocation waits", zap.String("old_key_id", id),
				zap.Time("last_used", used), zap.Duration("quiet", k.Revocation.Quiet))
		}
	}
	if perr := e.put(st); perr != nil {
		return perr
	}
	return err
}
