package rotate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/state"
)

// markSync records that the key's targets grew: Decide then plans a sync.
func (e *Engine) markSync(name string) error {
	r := e.runner(name)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := e.o.Store.Get(name)
	if err != nil || st.Current == nil {
		return err
	}
	st.SyncTargets, st.SyncRetryAt = true, time.Time{}
	return e.put(&st)
}

// syncTargets writes the current credential, read back from a sink that
// holds it, to every target that does not, and reads each write back. The
// provider is not called: nothing is rotated.
func (e *Engine) syncTargets(ctx context.Context, r *keyRunner, st *state.Key) error {
	k := r.k.Policy
	ctx, cancel := context.WithTimeoutCause(ctx, k.Timeout, fmt.Errorf("sync timeout (%s) reached", k.Timeout))
	defer cancel()
	cur := st.Current
	err := e.writeMissing(ctx, r, cur)
	if err != nil {
		st.SyncRetryAt = e.clock.Now().Add(e.backoff(1))
		r.log.Error("writing the current key to added targets failed; it will be retried", zap.String("key_id", cur.ID),
			zap.Error(err), e.nextAttempt(st.SyncRetryAt))
	} else {
		st.SyncTargets, st.SyncRetryAt = false, time.Time{}
		e.record(r, "synced", nil, state.Event{KeyID: cur.ID})
	}
	if perr := e.put(st); perr != nil {
		return errors.Join(err, perr)
	}
	return err
}

func (e *Engine) writeMissing(ctx context.Context, r *keyRunner, cur *state.ProviderKey) error {
	cred, err := e.credentialFromSinks(ctx, r, cur.ID)
	if err != nil {
		return err
	}
	base := secretFields(cred, &state.Rotation{KeyID: cur.ID, KeyName: cur.Name, CreatedAt: cur.CreatedAt})
	var errs []error
	for _, t := range r.k.Targets {
		got, err := t.Target.Read(ctx)
		if err == nil && unrename(got, t.Fields)[FieldKeyID] == cur.ID {
			continue
		}
		w := sinks.Write{RotationID: uuid.NewString(), KeyID: cur.ID, KeyName: cur.Name, RotatedAt: cur.CreatedAt, Data: rename(base, t.Fields)}
		if err := e.writeTarget(ctx, t, w); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.Target, err))
			continue
		}
		r.log.Info("current key written to an added target", zap.String("sink", t.Sink), zap.String("target", t.Target.String()),
			zap.String("key_id", cur.ID))
	}
	return errors.Join(errs...)
}

// writeTarget writes, promotes a staging target, and reads the write back.
func (e *Engine) writeTarget(ctx context.Context, t BoundTarget, w sinks.Write) error {
	if err := e.mayAct(ctx); err != nil {
		return err
	}
	_, err := t.Target.Write(ctx, w)
	e.m.sinkWrites.WithLabelValues(t.Sink, result(err)).Inc()
	if err != nil {
		return err
	}
	if p, ok := t.Target.(sinks.Promoter); ok {
		if err := p.Promote(ctx, w); err != nil {
			return fmt.Errorf("promote: %w", err)
		}
	}
	got, err := t.Target.Read(ctx)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if !equalSecret(got, w.Data) {
		return errors.New("read back: the sink holds something else than was written")
	}
	return nil
}
