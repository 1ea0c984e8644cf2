package leader

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotator-dev/rotator/internal/state/pgstore"
)

// TestFollowerWaitsForExpiryOrRelease: a valid lease is not taken; a
// released one is, at once, with the next token.
func TestFollowerWaitsForExpiryOrRelease(t *testing.T) {
	d := newDB(t)
	a := newLease(t, d.replica(t), "a", time.Hour, clockwork.NewFakeClock())
	b := newLease(t, d.replica(t), "b", time.Hour, clockwork.NewFakeClock())
	fa := mustAcquire(t, a)
	if ok, err := b.Acquire(context.Background()); ok || err != nil {
		t.Fatalf("b took a valid lease: %v, %v", ok, err)
	}
	if err := b.Check(context.Background()); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("follower's Check = %v, want ErrNotLeader", err)
	}
	if _, err := b.Fenced(context.Background()); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("follower's Fenced = %v, want ErrNotLeader", err)
	}
	if err := a.Renew(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.Token() != fa.Token() {
		t.Fatal("Renew changed the token")
	}
	if err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	fb := mustAcquire(t, b)
	if fb.Token() != fa.Token()+1 {
		t.Fatalf("tokens a %d, b %d: want +1", fa.Token(), fb.Token())
	}
	if ok, _ := a.Acquire(context.Background()); ok {
		t.Fatal("a took b's valid lease")
	}
	if a.Leading() || !b.Leading() {
		t.Fatalf("Leading: a %v, b %v", a.Leading(), b.Leading())
	}
}

// TestCheckFailsAtTheLocalDeadline: Check passes until TTL after the
// last successful renewal was sent, by the replica's own clock.
func TestCheckFailsAtTheLocalDeadline(t *testing.T) {
	d := newDB(t)
	c := clockwork.NewFakeClock()
	a := newLease(t, d.replica(t), "a", 10*time.Second, c)
	fa := mustAcquire(t, a)
	c.Advance(9 * time.Second)
	if err := fa.Check(context.Background()); err != nil {
		t.Fatalf("Check 9s into a 10s lease: %v", err)
	}
	if err := a.Renew(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Advance(10*time.Second - time.Nanosecond)
	if err := fa.Check(context.Background()); err != nil {
		t.Fatalf("Check just before the renewed deadline: %v", err)
	}
	c.Advance(time.Nanosecond)
	err := fa.Check(context.Background())
	if !errors.Is(err, ErrLeaseExpired) || !strings.Contains(err.Error(), "token") {
		t.Fatalf("Check at the deadline = %v, want ErrLeaseExpired", err)
	}
	if a.Leading() {
		t.Fatal("Leading after the deadline")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Advance(-time.Hour)
	if err := fa.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Check with a cancelled context = %v", err)
	}
}

func TestOptionsAreChecked(t *testing.T) {
	d := newDB(t)
	s := d.replica(t)
	for _, o := range []Options{
		{TTL: time.Second, RenewInterval: time.Second},
		{TTL: time.Second, RenewInterval: 2 * time.Second},
		{TTL: time.Microsecond},
	} {
		if _, err := New(s, o); err == nil || !strings.Contains(err.Error(), "renew_interval") {
			t.Errorf("%+v: err = %v", o, err)
		}
	}
	l, err := New(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.o.TTL != DefaultTTL || l.o.RenewInterval != DefaultRenewInterval || l.o.RetryInterval != DefaultRetryInterval || l.Holder() == "" {
		t.Fatalf("defaults: %+v", l.o)
	}
	// A follower takes over within 30 s of the leader's death (issue 15).
	if DefaultTTL+DefaultRetryInterval > 30*time.Second {
		t.Fatal("default takeover time above 30 s")
	}
}

// TestRenewalsDoNotQueueBehindStateWrites: with every connection of the
// store's pool busy (a burst of slow writes), the lease still renews on
// its own connections.
func TestRenewalsDoNotQueueBehindStateWrites(t *testing.T) {
	d := newDB(t)
	s, err := pgstore.Open(context.Background(), pgstore.Options{DSN: d.dsn, Schema: d.schema, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := newLease(t, s, "a", time.Hour, clockwork.NewFakeClock())
	mustAcquire(t, a)
	busy, err := s.Pool().Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("Renew with the store's pool exhausted: %v", err)
	}
}
