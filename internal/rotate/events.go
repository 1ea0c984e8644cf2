package rotate

import (
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/state"
)

// EventLog keeps the audit trail (state.Store does, bounded per key).
type EventLog interface {
	Append(ev state.Event) error
}

// Actors that are not a person.
const (
	ActorSchedule = "schedule"
)

// actor is who asked for an evaluation: the mode's actor, else the
// schedule.
func (m Mode) actor() string {
	if m.Actor != "" {
		return m.Actor
	}
	return ActorSchedule
}

// eventReason is the audit trail's word for why a rotation runs.
func eventReason(r Reason) string {
	switch r {
	case ReasonForced, ReasonOperator:
		return "operator"
	case ReasonEmergency:
		return "provider_rejected"
	case ReasonInterrupted:
		return "recovery"
	case ReasonNoKey, ReasonScheduleDue, "":
		return "schedule"
	}
	return string(r)
}

// record appends an event to the key's audit trail with the actor, reason
// and note of the evaluation in progress. A failure to record is logged,
// never fatal: the step itself is already in the state.
func (e *Engine) record(r *keyRunner, action string, err error, ev state.Event) {
	if e.o.Events == nil {
		return
	}
	ev.Time, ev.Key, ev.Action, ev.Actor = e.clock.Now(), r.k.Policy.Name, action, r.actor
	if ev.Reason == "" {
		ev.Reason = r.reason
	}
	if ev.Note == "" {
		ev.Note = r.note
	}
	ev.Result = "ok"
	if err != nil {
		ev.Result, ev.Error = "failed", err.Error()
	}
	if aerr := e.o.Events.Append(ev); aerr != nil {
		r.log.Warn("cannot record the audit event", zap.String("action", action), zap.Error(aerr))
	}
}

// oldIDs are the ids of the superseded keys.
func oldIDs(st *state.Key) []string {
	ids := make([]string, 0, len(st.Retiring))
	for _, rt := range st.Retiring {
		ids = append(ids, rt.ID)
	}
	return ids
}

// ErrUnknownKey is returned for a key name not in the policy.
var ErrUnknownKey = errors.New("no such key in the configuration")

// Pause stops scheduled rotations of the key until Resume (keep-alive and
// due revocations go on). It is recorded in the state, so it survives
// restarts, and in the audit trail.
func (e *Engine) Pause(name, actor, reason string) error {
	return e.setPause(name, actor, reason, true)
}

// Resume restarts scheduled rotations of a paused key.
func (e *Engine) Resume(name, actor string) error {
	return e.setPause(name, actor, "", false)
}

func (e *Engine) setPause(name, actor, note string, pause bool) error {
	r := e.runner(name)
	if r == nil {
		return fmt.Errorf("%s: %w (keys: %s)", name, ErrUnknownKey, listNames(e.names(), 10))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := e.o.Store.Get(name)
	if err != nil {
		return err
	}
	action := "resumed"
	st.Paused = nil
	if pause {
		action = "paused"
		st.Paused = &state.Pause{At: e.clock.Now(), Actor: actor, Reason: note}
	}
	if err := e.put(&st); err != nil {
		return err
	}
	r.actor, r.reason, r.note = actor, "operator", note
	e.record(r, action, nil, state.Event{})
	r.log.Info("key "+action, zap.String("actor", actor), zap.String("note", note))
	e.export(r, st)
	e.wake(name) // a resumed key may be due now
	return nil
}
