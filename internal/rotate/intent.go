package rotate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/state"
)

// watchFor is how long after its attempt a name whose create had no
// definite answer is watched. It is first looked up once the rotation's
// timeout has passed since the attempt started (a create held in a proxy
// has landed by then or has been dropped), then after the engine's backoff
// for each look-up so far; the orphan scan also knows the watched names.
const watchFor = 24 * time.Hour

// definiteFailure reports whether a failed create got an answer that says
// no key was made, or was never sent: a failure of another request (the
// login before it, or after a 401 on it), a refused connection, a 4xx
// other than 408 (the request may still be processed) and 409 (a key of
// that name exists), or a 503 (the request was not taken). A timeout, a
// dropped connection, a success whose body cannot be read (the key likely
// exists), a 500, 502 or 504 of the create leave the outcome unknown.
func definiteFailure(err error) bool {
	var pe *providers.Error
	if !errors.As(err, &pe) {
		return false
	}
	if pe.Op != "" && pe.Op != "create" {
		return true // the create was not sent, or was refused unread (401)
	}
	if pe.Reason == providers.ReasonTimeout {
		return false
	}
	if pe.Reason == providers.ReasonUnreachable {
		return true // the connection was refused: the request was never sent
	}
	switch s := pe.Status; {
	case s == http.StatusServiceUnavailable:
		return true
	case s == http.StatusRequestTimeout, s == http.StatusConflict:
		return false
	default:
		return s >= 400 && s < 500
	}
}

// createFailed ends an attempt whose create failed. After a definite
// answer nothing was created: the intent is simply cleared. Otherwise the
// name is looked up now (at the next attempt when the rotation's deadline
// has passed), and watched if the key is not there yet. Either
// way the attempt counts as one failure and the next one starts after the
// normal backoff.
func (e *Engine) createFailed(ctx context.Context, r *keyRunner, st *state.Key, cause error) error {
	if definiteFailure(cause) {
		st.Rotation = nil
		if err := e.put(st); err != nil {
			return errors.Join(fmt.Errorf("create key: %w", cause), err)
		}
		return fmt.Errorf("create key: %w", cause)
	}
	name := st.Rotation.KeyName
	if ctx.Err() != nil {
		// The rotation's own deadline ended the create: a look-up now
		// could only fail the same way. The intent stays; the next
		// attempt looks the name up first.
		return fmt.Errorf("create key: %w (its outcome is unknown: %s is looked up at the next attempt)", cause, name)
	}
	if err := e.forgetIntent(ctx, r, st); err != nil {
		return fmt.Errorf("create key: %w (its outcome is unknown, and looking up %s failed: %v; it is looked up again later)", cause, name, err)
	}
	return fmt.Errorf("create key: %w (its outcome is unknown: a key named %s is revoked if it appears)", cause, name)
}

// forgetIntent clears a rotation at its intent step, whose create may or
// may not have reached the provider: a key found under the recorded name
// is revoked (its secret is lost); otherwise the name goes on the watch
// list, since a create held back on its way may still land.
func (e *Engine) forgetIntent(ctx context.Context, r *keyRunner, st *state.Key) error {
	rot := st.Rotation
	found, err := e.revokeNamed(ctx, r, rot.Provider, rot.KeyName)
	if err != nil {
		return err
	}
	if !found {
		now := e.clock.Now()
		settle := rot.StartedAt.Add(r.k.Policy.Timeout)
		st.Watch = append(st.Watch, state.Watched{Provider: rot.Provider, Name: rot.KeyName, Since: rot.StartedAt,
			NextCheckAt: maxTime(settle, now), Until: rot.StartedAt.Add(watchFor)})
		r.log.Info("no key under the name of the interrupted create yet; it is watched", zap.String("key_name", rot.KeyName),
			zap.Time("next_check", maxTime(settle, now)))
	}
	st.Rotation = nil
	return e.put(st)
}

// sweep looks up one watched name: a key found there is revoked and the
// watch ends; otherwise the name is looked up again later, until the watch
// runs out.
func (e *Engine) sweep(ctx context.Context, r *keyRunner, st *state.Key, name string) error {
	i := slices.IndexFunc(st.Watch, func(w state.Watched) bool { return w.Name == name })
	if i < 0 {
		return nil
	}
	w := st.Watch[i]
	found, err := e.revokeNamed(ctx, r, w.Provider, w.Name)
	now := e.clock.Now()
	switch {
	case err == nil && (found || !now.Before(w.Until)):
		st.Watch = slices.Delete(st.Watch, i, i+1)
	default:
		st.Watch[i].Checks++
		st.Watch[i].NextCheckAt = now.Add(e.backoff(st.Watch[i].Checks))
	}
	if perr := e.put(st); perr != nil {
		return errors.Join(err, perr)
	}
	return err
}

// revokeNamed revokes, through the guard, every active key named exactly
// name; found says whether there was one.
func (e *Engine) revokeNamed(ctx context.Context, r *keyRunner, provider, name string) (found bool, err error) {
	p, err := e.providerFor(r, provider)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, r.k.Policy.Timeout, fmt.Errorf("look-up timeout (%s) reached", r.k.Policy.Timeout))
	defer cancel()
	listed, err := p.List(ctx, name)
	if err != nil {
		return false, fmt.Errorf("look up %s: %w", name, err)
	}
	for _, info := range listed {
		if info.Name != name || !info.Active {
			continue
		}
		found = true
		rv := revocation{Provider: provider, ID: info.ID, Name: info.Name, Done: "revoked a key created by an attempt whose response was lost"}
		if err := e.revokeGuarded(ctx, r, rv); err != nil {
			return true, fmt.Errorf("revoke %s (%s): %w", info.Name, info.ID, err)
		}
	}
	return found, nil
}
