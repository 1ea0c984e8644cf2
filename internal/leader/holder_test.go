package leader

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// TestLeaderHolder: a follower reads who leads from the lease row; no one
// before the first acquisition and after a release.
func TestLeaderHolder(t *testing.T) {
	d := newDB(t)
	a := newLease(t, d.replica(t), "a", time.Hour, clockwork.NewFakeClock())
	b := newLease(t, d.replica(t), "b", time.Hour, clockwork.NewFakeClock())
	ctx := context.Background()
	if h, err := b.LeaderHolder(ctx); h != "" || err != nil {
		t.Fatalf("before any acquisition: %q, %v", h, err)
	}
	mustAcquire(t, a)
	if h, err := b.LeaderHolder(ctx); h != "a" || err != nil {
		t.Fatalf("while a leads: %q, %v", h, err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if h, err := b.LeaderHolder(ctx); h != "" || err != nil {
		t.Fatalf("after a released: %q, %v", h, err)
	}
	mustAcquire(t, b)
	if h, err := a.LeaderHolder(ctx); h != "b" || err != nil {
		t.Fatalf("while b leads: %q, %v", h, err)
	}
}
