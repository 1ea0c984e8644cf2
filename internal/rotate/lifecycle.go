package rotate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/state"
)

// Field names every sink receives besides the credential fields.
const (
	FieldKeyID     = "key_id"
	FieldKeyName   = "key_name"
	FieldCreatedAt = "created_at"
)

// rotate runs a new rotation from the start.
func (e *Engine) rotate(ctx context.Context, r *keyRunner, st *state.Key, reason Reason) (err error) {
	k := r.k.Policy
	ctx, cancel := context.WithTimeoutCause(ctx, k.Timeout, fmt.Errorf("rotation timeout (%s) reached", k.Timeout))
	defer cancel()
	start := e.clock.Now()
	defer func() {
		e.m.rotationDone(k.Name, err, e.clock.Since(start))
		if err != nil {
			e.rotationFailed(r, st, err)
		}
	}()

	st.LastAttemptAt = start
	st.Rotation = &state.Rotation{
		ID:        uuid.NewString(),
		Step:      state.StepIntent,
		Provider:  k.Provider,
		KeyName:   ProviderKeyName(k.NamePrefix, k.Name, start),
		StartedAt: start,
		Reason:    string(reason),
	}
	if err := e.put(st); err != nil {
		st.Rotation = nil
		return err
	}
	e.failpoint("after-intent")
	e.record(r, "rotation_started", nil, state.Event{OldKeyIDs: currentIDs(st)})
	r.log.Info("rotation started", zap.String("reason", string(reason)), zap.String("rotation_id", st.Rotation.ID),
		zap.String("new_key_name", st.Rotation.KeyName))

	if err := e.mayAct(ctx); err != nil {
		return err
	}
	key, err := r.k.Provider.Create(ctx, st.Rotation.KeyName, k.Params)
	e.failpoint("after-create")
	if err == nil {
		err = checkCreated(key)
	}
	if err != nil {
		return e.createFailed(ctx, r, st, err)
	}
	st.Rotation.Step = state.StepCreated
	st.Rotation.KeyID = key.ID
	st.Rotation.CreatedAt = key.CreatedAt
	if st.Rotation.CreatedAt.IsZero() {
		st.Rotation.CreatedAt = start
	}
	if err := e.put(st); err != nil {
		// Without a record the key would be untracked: revoke it now.
		rv := revocation{Provider: k.Provider, ID: key.ID, Name: key.Name, Done: "revoked the new key, which could not be recorded"}
		if rerr := e.revokeGuarded(context.WithoutCancel(ctx), r, rv); rerr != nil {
			r.log.Error("new key could not be recorded nor revoked; it is left as an orphan for the orphan scan",
				zap.String("key_id", key.ID), zap.Error(rerr))
		}
		st.Rotation = nil
		return err
	}
	r.inflight = &inflight{rotationID: st.Rotation.ID, cred: key.Credential}
	e.failpoint("after-created")
	e.record(r, "created", nil, state.Event{KeyID: key.ID})
	r.log.Info("key created", zap.String("key_id", key.ID), zap.String("new_key_name", key.Name))

	// Test the new credential before any consumer can see it.
	if err := e.verifyCredential(ctx, r, st.Rotation.KeyID, key.Credential); err != nil {
		if providers.ReasonOf(err) == providers.ReasonAuth {
			// The provider rejects its own new key: no sink has it yet, so
			// revoke it and start over next time.
			return e.abandon(ctx, r, st, fmt.Errorf("new key rejected by the provider: %w", err))
		}
		return fmt.Errorf("test new key: %w", err)
	}
	e.record(r, "verified", nil, state.Event{KeyID: key.ID})
	r.log.Info("new key verified at the provider", zap.String("key_id", key.ID))
	return e.finish(ctx, r, st, key.Credential)
}

// ProviderKeyName is the provider-side name of a new key:
// <prefix><key>-<UTC timestamp>-<random>.
func ProviderKeyName(prefix, key string, now time.Time) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [6]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + key + "-" + now.UTC().Format("20060102T150405Z") + "-" + string(b[:])
}

func checkCreated(k providers.Key) error {
	if k.ID == "" {
		return &providers.Error{Op: "create", Reason: providers.ReasonClient, Message: "the provider returned no key id"}
	}
	if len(k.Credential) == 0 {
		return &providers.Error{Op: "create", Reason: providers.ReasonClient, Message: "the provider returned no credential"}
	}
	for f, v := range k.Credential {
		if strings.TrimSpace(v) == "" {
			return &providers.Error{Op: "create", Reason: providers.ReasonClient, Message: fmt.Sprintf("the provider returned an empty %s", f)}
		}
	}
	return nil
}

// verifyCredential proves a new credential at the provider, a few times:
// a provider may take a moment to accept a key it has just issued. Each
// retry is logged as attempt n of max_attempts; the last error is the
// caller's. It uses
// the provider's Verify (one round trip) when it has one, else Test, whose
// metadata must then say the key is active.
func (e *Engine) verifyCredential(ctx context.Context, r *keyRunner, id string, cred providers.Credential) error {
	var err error
	for i := 1; i <= e.o.VerifyAttempts; i++ {
		err = verifyOnce(ctx, r.k.Provider, id, cred)
		if err == nil {
			return nil
		}
		if i == e.o.VerifyAttempts {
			break
		}
		if reason := providers.ReasonOf(err); reason != providers.ReasonAuth && !providers.Retryable(err) {
			break
		}
		wait := time.Duration(i) * time.Second
		r.log.Info("new key not verified yet; retrying", zap.String("key_id", id), zap.Int("attempt", i),
			zap.Int("max_attempts", e.o.VerifyAttempts), zap.Duration("retry_in", wait), zap.Error(err))
		select {
		case <-ctx.Done():
			return errors.Join(err, context.Cause(ctx))
		case <-e.clock.After(wait):
		}
	}
	return err
}

// verifyOnce is one attempt of verifyCredential.
func verifyOnce(ctx context.Context, p providers.Provider, id string, cred providers.Credential) error {
	if v, ok := p.(providers.Verifier); ok {
		return v.Verify(ctx, id, cred)
	}
	info, err := p.Test(ctx, id, cred)
	if err == nil && !info.Active {
		err = &providers.Error{Op: "test", Reason: providers.ReasonAuth, Message: "the provider reports the new key inactive"}
	}
	return err
}

// resume continues or compensates a rotation found in flight. done is true
// when it completed the rotation.
func (e *Engine) resume(ctx context.Context, r *keyRunner, st *state.Key) (done bool, err error) {
	k := r.k.Policy
	ctx, cancel := context.WithTimeoutCause(ctx, k.Timeout, fmt.Errorf("rotation timeout (%s) reached", k.Timeout))
	defer cancel()
	rot := st.Rotation
	if rot.Step == state.StepIntent {
		// Create may or may not have happened: its secret is lost either way.
		return false, e.forgetIntent(ctx, r, st)
	}
	var cred providers.Credential
	if r.inflight != nil && r.inflight.rotationID == rot.ID {
		cred = r.inflight.cred
	} else {
		cred, err = e.recoverCredential(ctx, r, rot)
		if err != nil {
			return false, err
		}
	}
	if cred == nil {
		// No sink holds the new key and its secret is gone: revoke it.
		return false, e.abandon(ctx, r, st, nil)
	}
	r.log.Info("resuming rotation", zap.String("rotation_id", rot.ID), zap.String("step", string(rot.Step)),
		zap.String("new_key_id", rot.KeyID))
	r.inflight = &inflight{rotationID: rot.ID, cred: cred}
	start := e.clock.Now()
	if rot.Step == state.StepCreated {
		if err := e.verifyCredential(ctx, r, rot.KeyID, cred); err != nil {
			if providers.ReasonOf(err) == providers.ReasonAuth {
				return false, e.abandon(ctx, r, st, fmt.Errorf("new key rejected by the provider: %w", err))
			}
			return false, fmt.Errorf("test new key: %w", err)
		}
	}
	err = e.finish(ctx, r, st, cred)
	e.m.rotationDone(k.Name, err, e.clock.Since(start))
	return err == nil, err
}

// recoverCredential reads the in-flight key's credential back from a sink
// that holds it. It returns nil, nil when every sink was read and none
// holds it, and an error when a sink could not be read (then nobody can
// tell, and the rotation stays in flight).
func (e *Engine) recoverCredential(ctx context.Context, r *keyRunner, rot *state.Rotation) (providers.Credential, error) {
	var errs []error
	for _, t := range r.k.Targets {
		got, err := readWritten(ctx, t.Target, rot.ID)
		if errors.Is(err, sinks.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", t.Target, err))
			continue
		}
		plain := unrename(got, t.Fields)
		if plain[FieldKeyID] != rot.KeyID {
			continue
		}
		if cred := credentialOf(plain); len(cred) > 0 {
			return cred, nil
		}
	}
	return nil, errors.Join(errs...)
}

// abandon revokes the in-flight key once no sink holds it, and clears the
// rotation so that the next one starts afresh.
func (e *Engine) abandon(ctx context.Context, r *keyRunner, st *state.Key, cause error) error {
	rot := st.Rotation
	rv := revocation{Provider: rot.Provider, ID: rot.KeyID, Name: rot.KeyName, RotationID: rot.ID,
		Done: "revoked the new key of an interrupted rotation: no sink held it and its secret was lost"}
	if err := e.revokeGuarded(ctx, r, rv); err != nil {
		return errors.Join(cause, fmt.Errorf("cannot abandon key %s: %w", rot.KeyID, err))
	}
	st.Rotation = nil
	r.inflight = nil
	if err := e.put(st); err != nil {
		return errors.Join(cause, err)
	}
	e.record(r, "abandoned", nil, state.Event{KeyID: rot.KeyID})
	return cause
}

// rotationFailed records a failure and its backoff.
func (e *Engine) rotationFailed(r *keyRunner, st *state.Key, err error) {
	if errors.Is(err, errDraining) || errors.Is(err, errNotLeader) {
		return // not a failure of the key: the next leader (or start) resumes it
	}
	now := e.clock.Now()
	st.Failures++
	st.NextAttemptAt = now.Add(e.backoff(st.Failures))
	st.LastError, st.LastErrorAt = err.Error(), now
	if perr := e.put(st); perr != nil {
		r.log.Error("cannot record the failure", zap.Error(perr))
	}
	e.record(r, "rotation_failed", err, state.Event{})
	e.notify(r, HookEvent{Event: config.EventFailed, KeyID: currentID(st), OldKeyIDs: oldIDs(st), Error: err.Error()})
	msg := "rotation failed; the current key stays in place"
	if st.Current == nil {
		msg = "rotation failed; the key has no current provider key yet"
	}
	r.log.Error(msg, zap.Error(err), zap.Int("consecutive_failures", st.Failures), e.nextAttempt(st.NextAttemptAt))
}

// sinkHolding returns the first target that holds key id, "" when every
// target was read and none does, or an error when some target could not be
// read (then nobody can tell).
func (e *Engine) sinkHolding(ctx context.Context, r *keyRunner, id, rotationID string) (string, error) {
	var errs []error
	for _, t := range r.k.Targets {
		got, err := readWritten(ctx, t.Target, rotationID)
		if errors.Is(err, sinks.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", t.Target, err))
			continue
		}
		if unrename(got, t.Fields)[FieldKeyID] == id {
			return t.Target.String(), nil
		}
		if _, staged := t.Target.(sinks.PendingReader); staged && rotationID != "" {
			// also what consumers read now
			cur, err := t.Target.Read(ctx)
			if err == nil && unrename(cur, t.Fields)[FieldKeyID] == id {
				return t.Target.String(), nil
			}
		}
	}
	return "", errors.Join(errs...)
}

// readWritten reads what a rotation wrote: the staged value for staging
// targets, else what consumers read.
func readWritten(ctx context.Context, t sinks.Target, rotationID string) (sinks.Secret, error) {
	if pr, ok := t.(sinks.PendingReader); ok && rotationID != "" {
		return pr.ReadPending(ctx, rotationID)
	}
	return t.Read(ctx)
}

func secretFields(cred providers.Credential, rot *state.Rotation) sinks.Secret {
	s := sinks.Secret{}
	for k, v := range cred {
		s[k] = v
	}
	s[FieldKeyID] = rot.KeyID
	s[FieldKeyName] = rot.KeyName
	s[FieldCreatedAt] = rot.CreatedAt.UTC().Format(time.RFC3339)
	return s
}

func rename(s sinks.Secret, fields map[string]string) sinks.Secret {
	out := make(sinks.Secret, len(s))
	for k, v := range s {
		if to, ok := fields[k]; ok {
			k = to
		}
		out[k] = v
	}
	return out
}

func unrename(s sinks.Secret, fields map[string]string) sinks.Secret {
	inv := make(map[string]string, len(fields))
	for from, to := range fields {
		inv[to] = from
	}
	return rename(s, inv)
}

func equalSecret(a, b sinks.Secret) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// currentID is the current key's id, or "".
func currentID(st *state.Key) string {
	if st.Current == nil {
		return ""
	}
	return st.Current.ID
}

// currentIDs is the current key's id, as a list.
func currentIDs(st *state.Key) []string {
	if st.Current == nil {
		return nil
	}
	return []string{st.Current.ID}
}
