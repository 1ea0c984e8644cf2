package rotate

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotator-dev/rotator/internal/config"
)

type notifierFunc func(HookEvent)

func (f notifierFunc) Notify(ev HookEvent) { f(ev) }

// A hook with block_revocation holds the old key's revocation until it
// has succeeded on converged (within max_grace); every event reaches the
// notifier, converged before revoked, with ids and no secret.
func TestBlockingHookHoldsRevocation(t *testing.T) {
	var mu sync.Mutex
	var events []HookEvent
	h := newHarness(t, func(k *config.Key) {
		k.KeepAlive = 0
		k.Hooks = []config.HookRef{{Hook: "restart-app", On: []string{config.EventConverged}, BlockRevocation: true}}
		k.Revocation = config.Revocation{When: config.RevokeAfterGrace, MaxGrace: 4 * time.Hour, OnMaxGrace: config.OnMaxGraceRevoke}
	})
	h.e.o.Notifier = notifierFunc(func(ev HookEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() })
	h.mustEval(Mode{})
	old := h.state().Current.ID
	h.clock.Advance(24 * time.Hour)
	h.mustEval(Mode{})
	cur := h.state().Current.ID
	h.clock.Advance(2 * time.Hour) // grace (1h) is over
	h.mustEval(Mode{})
	if !h.active(old) {
		t.Fatal("the old key was revoked before the blocking hook succeeded")
	}
	if err := h.e.HookSucceeded("mail", cur, "restart-app"); err != nil {
		t.Fatal(err)
	}
	if out := h.mustEval(Mode{}); out.Revoked != 1 || h.active(old) {
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
	h.clock.Advance(24 * time.Hour)
	h.mustEval(Mode{})
	prev := h.state().Retiring[0].ID
	h.clock.Advance(3 * time.Hour)
	h.mustEval(Mode{})
	if !h.active(prev) {
		t.Fatal("revoked before max_grace while the hook had not succeeded")
	}
	h.clock.Advance(time.Hour + time.Second)
	h.mustEval(Mode{})
	if h.active(prev) {
		t.Fatal("not revoked at max_grace")
	}
}

// soon runs a waiting job now, and a running job again as soon as it is
// done, never twice at once.
func TestSchedulerSoon(t *testing.T) {
	s := newScheduler(clockwork.NewFakeClockAt(t0))
	s.at("a", t0.Add(time.Hour))
	s.soon("a")
	if it := s.idx["a"]; !it.at.Equal(t0) {
		t.Fatalf("waiting job due at %s, want now", it.at)
	}
	if job, ok := s.next(context.Background()); !ok || job != "a" {
		t.Fatalf("next = %q", job)
	}
	s.soon("a")
	if _, waiting := s.idx["a"]; waiting {
		t.Fatal("a running job was scheduled again while running")
	}
	s.done("a", t0.Add(time.Hour))
	if it := s.idx["a"]; it == nil || !it.at.Equal(t0) {
		t.Fatalf("after done: %+v, want due now", it)
	}
}

// After a restart, a converged event whose blocking hook had not succeeded
// is sent again (the hooks' queues live in memory).
func TestConvergedIsResentAfterARestart(t *testing.T) {
	h := newHarness(t, func(k *config.Key) {
		k.Hooks = []config.HookRef{{Hook: "restart-app", On: []string{config.EventConverged}, BlockRevocation: true}}
	})
	h.mustEval(Mode{})
	h.clock.Advance(24 * time.Hour)
	h.mustEval(Mode{})
	h.restart()
	var got []HookEvent
	h.e.o.Notifier = notifierFunc(func(ev HookEvent) { got = append(got, ev) })
	h.e.renotifyAwaiting()
	if len(got) != 1 || got[0].Event != config.EventConverged || got[0].KeyID != h.state().Current.ID {
		t.Fatalf("events after restart: %+v, want converged for the current key", got)
	}
	if err := h.e.HookSucceeded("mail", h.state().Current.ID, "restart-app"); err != nil {
		t.Fatal(err)
	}
	got = nil
	h.e.renotifyAwaiting()
	if len(got) != 0 {
		t.Errorf("converged sent again after the hook succeeded: %+v", got)
	}
}
