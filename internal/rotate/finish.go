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

// finish writes every sink, reads every write back, promotes staged
// writes and commits. It is idempotent: a resumed rotation calls it again
// with the recovered credential.
func (e *Engine) finish(ctx context.Context, r *keyRunner, st *state.Key, cred providers.Credential) error {
	rot := st.Rotation
	base := secretFields(cred, rot)
	if err := e.writeSinks(ctx, r, st, base); err != nil {
		return err
	}
	if err := e.readBack(ctx, r, rot, base); err != nil {
		return err
	}
	if err := e.promoteStaged(ctx, r, rot, base); err != nil {
		return err
	}
	e.failpoint("after-promote")
	return e.commit(r, st)
}

// writeSinks writes the new key to every target and records the step.
func (e *Engine) writeSinks(ctx context.Context, r *keyRunner, st *state.Key, base sinks.Secret) error {
	rot := st.Rotation
	if rot.Versions == nil {
		rot.Versions = map[string]string{}
	}
	var errs []error
	for _, t := range r.k.Targets {
		if err := e.mayAct(ctx); err != nil {
			return err
		}
		v, err := t.Target.Write(ctx, writeOf(rot, base, t))
		e.m.sinkWrites.WithLabelValues(t.Sink, result(err)).Inc()
		if err != nil {
			errs = append(errs, fmt.Errorf("write %s: %w", t.Target, err))
			continue
		}
		rot.Versions[t.Target.String()] = v
		e.failpoint("after-sink-write")
		r.log.Info("sink written", sinkWritten(t.Sink, t.Target.String(), rot.KeyID, v)...)
	}
	if err := errors.Join(errs...); err != nil {
		_ = e.put(st) // keep the versions that did land
		return err
	}
	rot.Step = state.StepWritten
	if err := e.put(st); err != nil {
		return err
	}
	e.failpoint("after-written")
	e.record(r, "written", nil, state.Event{KeyID: rot.KeyID})
	return nil
}

// sinkWritten are the fields of the one log line of a sink write (the
// sinks log none): the version only where the sink keeps versions.
func sinkWritten(sink, target, keyID, version string) []zap.Field {
	f := []zap.Field{zap.String("sink", sink), zap.String("target", target), zap.String("key_id", keyID)}
	if version != "" {
		f = append(f, zap.String("version", version))
	}
	return f
}

// readBack checks that every target holds exactly what was written.
func (e *Engine) readBack(ctx context.Context, r *keyRunner, rot *state.Rotation, base sinks.Secret) error {
	var errs []error
	for _, t := range r.k.Targets {
		got, err := readWritten(ctx, t.Target, rot.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("read back %s: %w", t.Target, err))
			continue
		}
		if !equalSecret(got, rename(base, t.Fields)) {
			errs = append(errs, fmt.Errorf("read back %s: the sink holds something else than was written", t.Target))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.log.Info("every sink read back the new key", zap.String("key_id", rot.KeyID), zap.Int("targets", len(r.k.Targets)))
	return nil
}

// promoteStaged makes staged writes current (Secrets Manager: AWSCURRENT).
func (e *Engine) promoteStaged(ctx context.Context, r *keyRunner, rot *state.Rotation, base sinks.Secret) error {
	for _, t := range r.k.Targets {
		p, ok := t.Target.(sinks.Promoter)
		if !ok {
			continue
		}
		if err := e.mayAct(ctx); err != nil {
			return err
		}
		if err := p.Promote(ctx, writeOf(rot, base, t)); err != nil {
			return fmt.Errorf("promote %s: %w", t.Target, err)
		}
	}
	return nil
}

// commit makes the new key current and the previous one superseded, with
// its revocation deadline, in one state write.
func (e *Engine) commit(r *keyRunner, st *state.Key) error {
	rot, k := st.Rotation, r.k.Policy
	now := e.clock.Now()
	var validUntil time.Time
	if st.Current != nil {
		sup := superseding(k, *st.Current, rot.KeyID, now)
		st.Retiring = append(st.Retiring, sup)
		validUntil = sup.RevokeAfter
	}
	st.Current = &state.ProviderKey{Provider: rot.Provider, ID: rot.KeyID, Name: rot.KeyName, CreatedAt: rot.CreatedAt}
	reason := rot.Reason
	st.Rotation = nil
	st.LastSuccessAt = now
	st.Failures, st.NextAttemptAt, st.LastError, st.LastErrorAt, st.Emergency = 0, time.Time{}, "", time.Time{}, ""
	st.LastKeepAliveAt, st.KeepAliveFailures, st.KeepAliveRetryAt, st.LastUsedAt = now, 0, time.Time{}, time.Time{}
	st.SyncTargets, st.SyncRetryAt = false, time.Time{} // every target holds the new key
	st.Rotations++
	if err := e.put(st); err != nil {
		return err
	}
	r.inflight = nil
	e.failpoint("after-commit")
	e.record(r, "promoted", nil, state.Event{KeyID: st.Current.ID, OldKeyIDs: oldIDs(st)})
	e.notify(r, HookEvent{Event: config.EventConverged, KeyID: st.Current.ID, OldKeyIDs: oldIDs(st)})
	fields := []zap.Field{zap.String("key_id", st.Current.ID), zap.String("reason", reason), zap.Int("pending_revocations", len(st.Retiring))}
	if !validUntil.IsZero() {
		fields = append(fields, zap.Time("old_key_valid_until", validUntil))
	}
	r.log.Info("rotation complete", fields...)
	return nil
}

// writeOf is the write of a rotation's secret to one target.
func writeOf(rot *state.Rotation, base sinks.Secret, t BoundTarget) sinks.Write {
	return sinks.Write{RotationID: rot.ID, KeyID: rot.KeyID, KeyName: rot.KeyName, RotatedAt: rot.CreatedAt, Data: rename(base, t.Fields)}
}
