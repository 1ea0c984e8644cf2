package leader

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotator-dev/rotator/internal/state"
)

// tenure records one call of Run's lead function.
type tenure struct {
	fs    *FencedStore
	ended chan struct{} // closed when lead's context is done
}

// runLease runs l.Run in the background; lead blocks until its context
// ends. Tenures arrive on the channel; the returned stop cancels Run and
// waits for it.
func runLease(t *testing.T, l *Lease) (<-chan tenure, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tenures := make(chan tenure, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx, func(ctx context.Context, fs *FencedStore) {
			ended := make(chan struct{})
			tenures <- tenure{fs: fs, ended: ended}
			<-ctx.Done()
			close(ended)
		})
	}()
	stop := func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return tenures, stop
}

func next(t *testing.T, tenures <-chan tenure) tenure {
	t.Helper()
	select {
	case tn := <-tenures:
		return tn
	case <-time.After(10 * time.Second):
		t.Fatal("no tenure began")
		return tenure{}
	}
}

func ended(t *testing.T, tn tenure, what string) {
	t.Helper()
	select {
	case <-tn.ended:
	case <-time.After(10 * time.Second):
		t.Fatalf("the tenure did not end: %s", what)
	}
}

// advance waits until n timers wait on c, then moves c by d.
func advance(t *testing.T, c *clockwork.FakeClock, n int, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("waiting for %d timers: %v", n, err)
	}
	c.Advance(d)
}

// TestRunEndsTheTenureWhenTheLeaseIsTakenOver: the first renewal that
// finds another token cancels lead's context, and the tenure's writes
// are refused.
func TestRunEndsTheTenureWhenTheLeaseIsTakenOver(t *testing.T) {
	d := newDB(t)
	c := clockwork.NewFakeClock()
	a := newLease(t, d.replica(t), "a", time.Hour, c)
	tenures, _ := runLease(t, a)
	tn := next(t, tenures)
	if err := tn.fs.Put(state.Key{Name: "mail"}); err != nil {
		t.Fatal(err)
	}
	// Another replica takes the row (as after an expiry a never noticed).
	thief := newLease(t, d.replica(t), "thief", time.Hour, clockwork.NewFakeClock())
	if _, err := thief.store.Pool().Exec(context.Background(),
		"UPDATE "+thief.store.Table("leader_lease")+" SET holder = 'thief', token = token + 1"); err != nil {
		t.Fatal(err)
	}
	advance(t, c, 1, a.o.RenewInterval)
	ended(t, tn, "after a renewal found another token")
	if err := tn.fs.Check(context.Background()); err == nil {
		t.Fatal("Check passes after the lease was taken over")
	}
	if err := tn.fs.Put(state.Key{Name: "mail"}); !errors.Is(err, ErrFenced) {
		t.Fatalf("Put after the takeover = %v, want ErrFenced", err)
	}
}

// TestRunEndsTheTenureAtTheLocalDeadline: when the database cannot be
// reached, renewals fail and the tenure ends at the local deadline (TTL
// after the last renewal was sent), not before.
func TestRunEndsTheTenureAtTheLocalDeadline(t *testing.T) {
	d := newDB(t)
	c := clockwork.NewFakeClock()
	s := d.replica(t)
	a := newLease(t, s, "a", 10*time.Second, c)
	tenures, _ := runLease(t, a)
	tn := next(t, tenures)
	a.pool.Close() // every renewal fails from now on
	start := c.Now()
	for c.Since(start) < a.o.TTL {
		select {
		case <-tn.ended:
			t.Fatalf("the tenure ended %s into a %s lease", c.Since(start), a.o.TTL)
		default:
		}
		advance(t, c, 1, 500*time.Millisecond)
	}
	// The test cannot tell which of the renewal loop's timers it waited on,
	// so the last retry may have been armed just after the clock moved:
	// allow one retry interval past the deadline, in small steps.
	for limit := start.Add(a.o.TTL + renewRetry); ; c.Advance(100 * time.Millisecond) {
		select {
		case <-tn.ended:
		case <-time.After(100 * time.Millisecond):
			if c.Now().Before(limit) {
				continue
			}
			ended(t, tn, "at the local deadline")
		}
		break
	}
	if err := tn.fs.Check(context.Background()); !errors.Is(err, ErrLeaseExpired) && !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Check after the deadline = %v", err)
	}
}

// TestRunReleasesOnShutdown: a leader that stops hands the lease over at
// once (no TTL to wait for), and a follower's Run takes it.
func TestRunReleasesOnShutdown(t *testing.T) {
	d := newDB(t)
	ca, cb := clockwork.NewFakeClock(), clockwork.NewFakeClock()
	a := newLease(t, d.replica(t), "a", time.Hour, ca)
	b := newLease(t, d.replica(t), "b", time.Hour, cb)
	ta, stopA := runLease(t, a)
	tna := next(t, ta)
	tb, _ := runLease(t, b)
	// b's first attempt fails; it waits RetryInterval.
	advance(t, cb, 1, 0)
	stopA()
	ended(t, tna, "on shutdown")
	advance(t, cb, 1, b.o.RetryInterval)
	tnb := next(t, tb)
	if tnb.fs.Token() != tna.fs.Token()+1 {
		t.Fatalf("tokens a %d, b %d", tna.fs.Token(), tnb.fs.Token())
	}
	if err := tnb.fs.Put(state.Key{Name: "mail"}); err != nil {
		t.Fatal(err)
	}
}
