package rotate_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/rotate"
)

type notifierFunc func(rotate.HookEvent)

func (f notifierFunc) Notify(ev rotate.HookEvent) { f(ev) }

// A hook with block_revocation holds the old key's revocation until it
// has succeeded on converged (within max_grace); every event reaches the
// notifier, converged before revoked, with ids and no secret.
func TestBlockingHookHoldsRevocation(t *testing.T) {
	var mu sync.Mutex
	var events []rotate.HookEvent
	h := newHarness(t, func(k *config.Key) {
		k.KeepAlive = 0
		k.Hooks = []config.HookRef{{Hook: "restart-app", On: []string{config.EventConverged}, BlockRevocation: true}}
		k.Revocation = config.Revocation{When: config.RevokeAfterGrace, MaxGrace: 4 * time.Hour, OnMaxGrace: config.OnMaxGraceRevoke}
	})
	h.Engine.Opts().Notifier = notifierFunc(func(ev rotate.HookEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() })
	h.MustEval(rotate.Mode{})
	old := h.State().Current.ID
	h.Clock.Advance(24 * time.Hour)
	h.MustEval(rotate.Mode{})
	cur := h.State().Current.ID
	h.Clock.Advance(2 * time.Hour) // grace (1h) is over
	h.MustEval(rotate.Mode{})
	if !h.active(old) {
		t.Fatal("the old key was revoked before the blocking hook succeeded")
	}
	if err := h.Engine.HookSucceeded("mail", cur, "restart-app"); err != nil {
		t.Fatal(err)
	}
	if out := h.MustEval(rotate.Mode{}); out.Revoked != 1 || h.active(old) {
		t.Fatalf("revoked %d after the hook succeeded, want the old key %s", out.Revoked, old)
	}
	var names []string
	for _, ev := range events {
		names = append(names, ev.Event)
	}
	if !slices.Equal(names, []string{"converged", "converged", "revoked"}) {
		t.Errorf("events %q, want converged (first key), converged, revoked", names)
	}
	if last := events[len(events)-1]; last.KeyID != old || len(last.Targets) != 2 {
		t.Errorf("revoked event %+v, want key %s and both targets", last, old)
	}

	// Without the hook's success, max_grace ends the wait.
	h.Clock.Advance(24 * time.Hour)
	h.MustEval(rotate.Mode{})
	prev := h.State().Retiring[0].ID
	h.Clock.Advance(3 * time.Hour)
	h.MustEval(rotate.Mode{})
	if !h.active(prev) {
		t.Fatal("revoked before max_grace while the hook had not succeeded")
	}
	h.Clock.Advance(time.Hour + time.Second)
	h.MustEval(rotate.Mode{})
	if h.active(prev) {
		t.Fatal("not revoked at max_grace")
	}
}

// After a restart, a converged event whose blocking hook had not succeeded
// is sent again (the hooks' queues live in memory).
func TestConvergedIsResentAfterARestart(t *testing.T) {
	h := newHarness(t, func(k *config.Key) {
		k.Hooks = []config.HookRef{{Hook: "restart-app", On: []string{config.EventConverged}, BlockRevocation: true}}
	})
	h.MustEval(rotate.Mode{})
	h.Clock.Advance(24 * time.Hour)
	h.MustEval(rotate.Mode{})
	h.Restart()
	var got []rotate.HookEvent
	h.Engine.Opts().Notifier = notifierFunc(func(ev rotate.HookEvent) { got = append(got, ev) })
	h.Engine.RenotifyAwaiting()
	if len(got) != 1 || got[0].Event != config.EventConverged || got[0].KeyID != h.State().Current.ID {
		t.Fatalf("events after restart: %+v, want converged for the current key", got)
	}
	if err := h.Engine.HookSucceeded("mail", h.State().Current.ID, "restart-app"); err != nil {
		t.Fatal(err)
	}
	got = nil
	h.Engine.RenotifyAwaiting()
	if len(got) != 0 {
		t.Errorf("converged sent again after the hook succeeded: %+v", got)
	}
}
