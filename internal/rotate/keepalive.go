package rotate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/state"
)

// nextKeepAlive is when the current key is next to be used.
func (e *Engine) nextKeepAlive(k config.Key, st state.Key) time.Time {
	if !st.KeepAliveRetryAt.IsZero() {
		return st.KeepAliveRetryAt
	}
	base := st.LastKeepAliveAt
	if base.IsZero() && st.Current != nil {
		base = st.Current.CreatedAt
	}
	return base.Add(k.KeepAlive)
}

// keepAliveDue uses the current key when its keep-alive interval has
// passed: the credential is read back from the first sink that holds it
// (never from disk), used at the provider, and the provider's last-use time
// is recorded. A key the provider reports inactive, or rejects, is an
// emergency: the next evaluation rotates it at once.
func (e *Engine) keepAliveDue(ctx context.Context, r *keyRunner, st *state.Key, force bool) (bool, error) {
	k := r.k.Policy
	if st.Current == nil || k.KeepAlive <= 0 || e.draining.Load() || st.Emergency != "" {
		return false, nil
	}
	now := e.clock.Now()
	if !force && now.Before(e.nextKeepAlive(k, *st)) {
		return false, nil
	}
	ctx, cancel := context.WithTimeoutCause(ctx, k.Timeout, fmt.Errorf("keep-alive timeout (%s) reached", k.Timeout))
	defer cancel()
	info, err := e.keepAlive(ctx, r, st.Current)
	e.m.keepalives.WithLabelValues(k.Name, result(err)).Inc()
	if err == nil && !info.Active {
		err = errors.New("the provider reports the current key inactive")
		st.Emergency = "the provider reports the current key inactive (revoked for inactivity?)"
	} else if providers.ReasonOf(err) == providers.ReasonAuth {
		st.Emergency = "the provider rejects the current key: " + err.Error()
	}
	if err != nil {
		st.KeepAliveFailures++
		st.KeepAliveRetryAt = now.Add(e.backoff(st.KeepAliveFailures))
		r.log.Error("keep-alive failed", zap.String("key_id", st.Current.ID), zap.Error(err),
			zap.Int("consecutive_failures", st.KeepAliveFailures), zap.Bool("emergency", st.Emergency != ""))
	} else {
		st.KeepAliveFailures = 0
		st.LastKeepAliveAt = now
		st.KeepAliveRetryAt = time.Time{}
		st.LastUsedAt = info.LastUsedAt
		if st.LastUsedAt.IsZero() {
			st.LastUsedAt = now
		}
		r.log.Info("keep-alive done", zap.String("key_id", st.Current.ID), zap.Time("last_used", st.LastUsedAt))
	}
	if perr := e.put(st); perr != nil {
		err = errors.Join(err, perr)
	}
	return err == nil, err
}

func (e *Engine) keepAlive(ctx context.Context, r *keyRunner, cur *state.ProviderKey) (providers.KeyInfo, error) {
	cred, err := e.credentialFromSinks(ctx, r, cur.ID)
	if err != nil {
		return providers.KeyInfo{}, err
	}
	p, err := e.providerFor(r, cur.Provider)
	if err != nil {
		return providers.KeyInfo{}, err
	}
	return p.Test(ctx, cur.ID, cred)
}

// credentialFromSinks reads the credential of key id from the first sink
// that holds it.
func (e *Engine) credentialFromSinks(ctx context.Context, r *keyRunner, id string) (providers.Credential, error) {
	var errs []error
	for _, t := range r.k.Targets {
		got, err := t.Target.Read(ctx)
		if err != nil {
			if !errors.Is(err, sinks.ErrNotFound) {
				errs = append(errs, fmt.Errorf("read %s: %w", t.Target, err))
			}
			continue
		}
		plain := unrename(got, t.Fields)
		if plain[FieldKeyID] != id {
			continue
		}
		cred := providers.Credential{}
		for f, v := range plain {
			switch f {
			case FieldKeyID, FieldKeyName, FieldCreatedAt:
			default:
				cred[f] = v
			}
		}
		return cred, nil
	}
	return nil, errors.Join(append(errs, fmt.Errorf("no sink holds the current key %s", id))...)
}
