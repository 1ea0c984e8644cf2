package rotate

import (
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/state"
)

// HookEvent is what a key's hooks are told: what happened, to which key,
// with which provider key ids. It never carries a secret: consumers read
// the new one from their sink.
type HookEvent struct {
	Time time.Time
	// Event is config.EventConverged, EventRevoked, EventFailed or
	// EventEmergency.
	Event string
	Key   string
	// KeyID is the current key (converged, emergency, failed) or the key
	// revoked (revoked); OldKeyIDs are the superseded keys.
	KeyID     string
	OldKeyIDs []string
	// Targets describe the sink targets that hold the key.
	Targets []string
	// Trigger, for emergency: "provider" or "operator".
	Trigger string
	// Error says why a rotation failed (no secret).
	Error string
}

// Notifier delivers events to the hooks a key subscribes to. Notify must
// not block: hooks run outside the key's lock and never stall rotation.
// When a hook with block_revocation succeeds on converged, the notifier
// calls Engine.HookSucceeded.
type Notifier interface {
	Notify(ev HookEvent)
}

// notify tells the key's hooks about an event.
func (e *Engine) notify(r *keyRunner, ev HookEvent) {
	if e.o.Notifier == nil || len(r.k.Policy.Hooks) == 0 {
		return
	}
	ev.Time, ev.Key = e.clock.Now(), r.k.Policy.Name
	for _, t := range r.k.Targets {
		ev.Targets = append(ev.Targets, t.Target.String())
	}
	e.o.Notifier.Notify(ev)
}

// HookSucceeded records that hook succeeded on the converged event of the
// key's new key newKeyID: the revocation of the keys it superseded no
// longer waits for that hook.
func (e *Engine) HookSucceeded(key, newKeyID, hook string) error {
	r := e.runner(key)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := e.o.Store.Get(key)
	if err != nil {
		return err
	}
	changed := false
	for i := range st.Retiring {
		rt := &st.Retiring[i]
		if rt.SupersededBy == newKeyID && slices.Contains(rt.AwaitingHooks, hook) {
			rt.AwaitingHooks = slices.DeleteFunc(rt.AwaitingHooks, func(h string) bool { return h == hook })
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := e.put(&st); err != nil {
		return err
	}
	r.log.Info("hook succeeded; the old key's revocation no longer waits for it", zap.String("hook", hook),
		zap.String("key_id", newKeyID))
	e.wake(key)
	return nil
}

// emergencyTrigger says who called for an emergency rotation.
func emergencyTrigger(a Action) string {
	if a.Reason == ReasonEmergency {
		return "provider"
	}
	return "operator"
}

// superseding is the Retiring record of the key the commit supersedes.
func superseding(k config.Key, cur state.ProviderKey, newID string, now time.Time) state.Retiring {
	return state.Retiring{ProviderKey: cur, RevokeAfter: now.Add(k.Grace), SupersededAt: now, SupersededBy: newID,
		AwaitingHooks: k.BlockingHooks()}
}

// wake makes the daemon evaluate the key soon (outside Serve: nothing).
func (e *Engine) wake(key string) {
	if s := e.sched.Load(); s != nil {
		s.soon("key/" + key)
	}
}

// renotifyAwaiting tells the hooks again, at start-up, about the converged
// events whose blocking hooks have not succeeded yet: the hooks' queues
// live in memory, so after a restart the old key's revocation would
// otherwise wait for max_grace.
func (e *Engine) renotifyAwaiting() {
	for _, r := range e.runners() {
		m := r.managed()
		if len(m.Policy.BlockingHooks()) == 0 {
			continue
		}
		st, err := e.o.Store.Get(m.Policy.Name)
		if err != nil || st.Current == nil {
			continue
		}
		if slices.ContainsFunc(st.Retiring, func(rt state.Retiring) bool {
			return rt.SupersededBy == st.Current.ID && len(rt.AwaitingHooks) > 0
		}) {
			e.notify(r, HookEvent{Event: config.EventConverged, KeyID: st.Current.ID, OldKeyIDs: oldIDs(&st)})
		}
	}
}
