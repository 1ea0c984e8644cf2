package rotate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/state"
)

// keepAliveNow uses the current key (Decide said it is due): the credential is read back from the first sink that holds it
// (never from disk), used at the provider, and the provider's last-use time
// is recorded. A key the provider reports inactive, or rejects, is an
// emergency: the next evaluation rotates it at once.
func (e *Engine) keepAliveNow(ctx context.Context, r *keyRunner, st *state.Key) (bool, error) {
	k := r.k.Policy
	if st.Current == nil {
		return false, nil
	}
	now := e.clock.Now()
	ctx, cancel := context.WithTimeoutCause(ctx, k.Timeout, fmt.Errorf("keep-alive timeout (%s) reached", k.Timeout))
	defer cancel()
	info, err := e.keepAlive(ctx, r, st.Current)
	e.m.keepAliveDone(k.Name, err)
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
	e.record(r, "keepalive", err, state.Event{KeyID: st.Current.ID})
	if perr := e.put(st); perr != nil {
		err = errors.Join(err, perr)
	}
	if gerr := e.keepAliveInGrace(ctx, r, st); gerr != nil {
		err = errors.Join(err, gerr)
	}
	return err == nil, err
}

// keepAliveInGrace uses the superseded keys still in their grace period:
// consumers that have not picked up the new secret yet still use them.
// Under revoke_when: unused it uses none: the provider's report of their
// last use must be their consumers' alone.
// Their credential is read from a sink that keeps earlier values
// (sinks.HistoryReader: Vault KV v2, Secrets Manager's AWSPREVIOUS); a key
// that no sink keeps is skipped, which only matters for a grace period
// longer than the provider's inactivity limit.
func (e *Engine) keepAliveInGrace(ctx context.Context, r *keyRunner, st *state.Key) error {
	k := r.k.Policy
	if k.Revocation.Unused() {
		// Using a superseded key would hide whether its consumers still do.
		return nil
	}
	now := e.clock.Now()
	var errs []error
	for _, rt := range st.Retiring {
		if !now.Before(rt.RevokeAfter) {
			continue // due for revocation, not for keep-alive
		}
		cred, err := e.credentialFromHistory(ctx, r, rt.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("key %s in grace: %w", rt.ID, err))
			continue
		}
		if cred == nil {
			r.log.Debug("no sink keeps the credential of the key in grace; it is not kept alive", zap.String("old_key_id", rt.ID))
			continue
		}
		p, err := e.providerFor(r, rt.Provider)
		if err == nil {
			_, err = p.Test(ctx, rt.ID, cred)
		}
		e.m.keepAliveDone(k.Name, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("key %s in grace: %w", rt.ID, err))
			r.log.Warn("keep-alive of a key in grace failed", zap.String("old_key_id", rt.ID), zap.Error(err))
			continue
		}
		r.log.Info("keep-alive done for a key in grace", zap.String("old_key_id", rt.ID), zap.Time("revoke_after", rt.RevokeAfter))
	}
	return errors.Join(errs...)
}

// credentialFromHistory finds the credential of key id among the earlier
// values the sinks keep; nil when none keeps it.
func (e *Engine) credentialFromHistory(ctx context.Context, r *keyRunner, id string) (providers.Credential, error) {
	var errs []error
	for _, t := range r.k.Targets {
		hr, ok := t.Target.(sinks.HistoryReader)
		if !ok {
			continue
		}
		prev, err := hr.Previous(ctx, 3)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range prev {
			if plain := unrename(p, t.Fields); plain[FieldKeyID] == id {
				return credentialOf(plain), nil
			}
		}
	}
	return nil, errors.Join(errs...)
}

// credentialOf is the credential part of a secret read back from a sink:
// every field but key_id, key_name and created_at.
func credentialOf(plain sinks.Secret) providers.Credential {
	cred := providers.Credential{}
	for f, v := range plain {
		switch f {
		case FieldKeyID, FieldKeyName, FieldCreatedAt:
		default:
			cred[f] = v
		}
	}
	return cred
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
		return credentialOf(plain), nil
	}
	return nil, errors.Join(append(errs, fmt.Errorf("no sink holds the current key %s", id))...)
}
