package rotate

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// t0 is when the internal tests' clocks start (rotatetest.T0, which
// package rotate's own tests cannot import).
var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// idleProbe runs next on its own goroutine until it sleeps (the idle
// decision is made before the timer is set), then stops it, and returns the
// job it handed out, if any.
func idleProbe(t *testing.T, s *scheduler, clock *clockwork.FakeClock) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type res struct {
		job string
		ok  bool
	}
	out := make(chan res, 1)
	go func() { j, ok := s.next(ctx); out <- res{j, ok} }()
	sleeping := make(chan struct{})
	go func() { _ = clock.BlockUntilContext(ctx, 1); close(sleeping) }()
	select {
	case r := <-out:
		return r.job, r.ok
	case <-sleeping:
		cancel()
		r := <-out
		return r.job, r.ok
	}
}

// TestSchedulerIdle pins when the daemon counts as idle: no job running,
// the next event at least idleAfter away, once per spell of work.
func TestSchedulerIdle(t *testing.T) {
	clock := clockwork.NewFakeClockAt(t0)
	s := newScheduler(clock)
	idles := 0
	s.onIdle, s.idleAfter = func() { idles++ }, 10*time.Second
	s.at("key/a", t0)
	s.at("orphans/p", t0.Add(time.Minute))

	if job, ok := idleProbe(t, s, clock); !ok || job != "key/a" {
		t.Fatalf("next = %q, %v; want key/a", job, ok)
	}
	// key/a runs; the scheduler sleeps until the orphan scan: not idle.
	if _, ok := idleProbe(t, s, clock); ok || idles != 0 {
		t.Fatalf("handed out a job or idle (%d) while key/a runs", idles)
	}
	// key/a is due again in 5 s: too near.
	s.done("key/a", t0.Add(5*time.Second))
	if _, ok := idleProbe(t, s, clock); ok || idles != 0 {
		t.Fatalf("idle (%d) with an event 5 s away", idles)
	}
	clock.Advance(5 * time.Second)
	if job, ok := idleProbe(t, s, clock); !ok || job != "key/a" {
		t.Fatalf("next = %q, %v; want key/a", job, ok)
	}
	// Done for a day: the next event is the orphan scan in 55 s: idle,
	// once, however often the scheduler wakes before then.
	s.done("key/a", t0.Add(24*time.Hour))
	for i := 0; i < 3; i++ {
		if _, ok := idleProbe(t, s, clock); ok || idles != 1 {
			t.Fatalf("probe %d: idle %d times, want 1", i, idles)
		}
	}
	clock.Advance(55 * time.Second)
	if job, ok := idleProbe(t, s, clock); !ok || job != "orphans/p" {
		t.Fatalf("next = %q, %v; want orphans/p", job, ok)
	}
	s.done("orphans/p", t0.Add(time.Hour))
	if _, ok := idleProbe(t, s, clock); ok || idles != 2 {
		t.Fatalf("after the orphan scan: idle %d times, want 2", idles)
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
