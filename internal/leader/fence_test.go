package leader

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jonboulle/clockwork"

	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/state/pgstore"
	"github.com/rotator-dev/rotator/internal/state/pgstore/pgtest"
)

// db is one test's database: a DSN and a fresh schema.
type db struct{ dsn, schema string }

func newDB(t *testing.T) db {
	dsn := pgtest.DSN(t)
	return db{dsn: dsn, schema: pgtest.Schema(t, dsn)}
}

// replica opens the store of one replica (its own pool).
func (d db) replica(t *testing.T) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), pgstore.Options{DSN: d.dsn, Schema: d.schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newLease(t *testing.T, s *pgstore.Store, holder string, ttl time.Duration, c clockwork.Clock) *Lease {
	t.Helper()
	l, err := New(s, Options{Holder: holder, TTL: ttl, Clock: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

func mustAcquire(t *testing.T, l *Lease) *FencedStore {
	t.Helper()
	ok, err := l.Acquire(context.Background())
	if err != nil || !ok {
		t.Fatalf("%s: Acquire = %v, %v", l.Holder(), ok, err)
	}
	fs, err := l.Fenced(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// takeOver acquires once the current lease has expired by the database's
// clock (the tests use a 1 ms lease: a few round trips).
func takeOver(t *testing.T, l *Lease) *FencedStore {
	t.Helper()
	fs, err := tryTakeOver(l)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func tryTakeOver(l *Lease) (*FencedStore, error) {
	end := time.Now().Add(10 * time.Second)
	for time.Now().Before(end) {
		ok, err := l.Acquire(context.Background())
		if err != nil {
			return nil, err
		}
		if ok {
			return l.Fenced(context.Background())
		}
	}
	return nil, fmt.Errorf("%s: no takeover in 10s", l.Holder())
}

func lastError(t *testing.T, s *pgstore.Store) string {
	t.Helper()
	k, err := s.Get("mail")
	if err != nil {
		t.Fatal(err)
	}
	return k.LastError
}

// TestPausedLeaderCannotWrite is the fencing test: A acquires and is
// paused (it stops renewing and its clock stands still, so its own Check
// still passes); B takes over after the lease expires; A's next write is
// refused, and B's record stays. It fails when FencedStore.check lets a
// write through regardless of the token.
func TestPausedLeaderCannotWrite(t *testing.T) {
	d := newDB(t)
	sa, sb := d.replica(t), d.replica(t)
	a := newLease(t, sa, "a", time.Millisecond, clockwork.NewFakeClock())
	b := newLease(t, sb, "b", time.Hour, clockwork.NewFakeClock())

	fa := mustAcquire(t, a)
	if err := fa.Put(state.Key{Name: "mail", LastError: "a: before the pause"}); err != nil {
		t.Fatalf("leader's write: %v", err)
	}

	fb := takeOver(t, b)
	if fb.Token() <= fa.Token() {
		t.Fatalf("tokens: a %d, b %d; want b's newer", fa.Token(), fb.Token())
	}
	if err := fb.Put(state.Key{Name: "mail", LastError: "b"}); err != nil {
		t.Fatalf("new leader's write: %v", err)
	}

	// A wakes up: by its own clock it is still the leader...
	if err := fa.Check(context.Background()); err != nil {
		t.Fatalf("paused leader's Check = %v; the test needs it to pass", err)
	}
	// ...but the database refuses its write.
	err := fa.Put(state.Key{Name: "mail", LastError: "a: after the pause"})
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("deposed leader's write: err = %v, want ErrFenced", err)
	}
	if got := lastError(t, sb); got != "b" {
		t.Fatalf("record = %q after the deposed leader's write, want b's", got)
	}
	err = fa.Append(state.Event{Time: time.Now(), Key: "mail", Action: "revoked"})
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("deposed leader's audit event: err = %v, want ErrFenced", err)
	}
	if err := a.Renew(context.Background()); !errors.Is(err, ErrLost) {
		t.Fatalf("deposed leader's Renew = %v, want ErrLost", err)
	}
	if err := fa.Check(context.Background()); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("deposed leader's Check after Renew = %v, want ErrNotLeader", err)
	}
}

// TestTakeoverWaitsForAWriteInFlight: a write that has passed its fence
// holds the lease row (FOR SHARE), so a takeover waits for it to commit:
// the write lands before the new token exists, never after. Without the
// share lock the takeover completes while the write is still open.
func TestTakeoverWaitsForAWriteInFlight(t *testing.T) {
	d := newDB(t)
	sa, sb := d.replica(t), d.replica(t)
	a := newLease(t, sa, "a", time.Millisecond, clockwork.NewFakeClock())
	b := newLease(t, sb, "b", time.Hour, clockwork.NewFakeClock())
	fa := mustAcquire(t, a)

	inFence, release := make(chan struct{}), make(chan struct{})
	written := make(chan error, 1)
	go func() {
		written <- sa.PutFenced(state.Key{Name: "mail", LastError: "a"}, func(ctx context.Context, tx pgx.Tx) error {
			err := fa.check(ctx, tx)
			close(inFence)
			<-release
			return err
		})
	}()
	<-inFence
	acquired := make(chan *FencedStore, 1)
	go func() {
		fb, err := tryTakeOver(b)
		if err != nil {
			t.Error(err)
		}
		acquired <- fb
	}()
	// Wait until b's acquisition is blocked on the lease row's lock.
	for !waitingOnLock(t, d) {
		select {
		case <-acquired:
			close(release)
			t.Fatal("b took the lease over while a's fenced write was in flight")
		default:
		}
	}
	close(release)
	if err := <-written; err != nil {
		t.Fatalf("a's write in flight: %v", err)
	}
	fb := <-acquired
	if fb == nil {
		t.FailNow()
	}
	if err := fb.Put(state.Key{Name: "mail", LastError: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := fa.Put(state.Key{Name: "mail", LastError: "a again"}); !errors.Is(err, ErrFenced) {
		t.Fatalf("a's write after the takeover: %v, want ErrFenced", err)
	}
	if got := lastError(t, sb); got != "b" {
		t.Fatalf("record = %q, want b's", got)
	}
}

// waitingOnLock reports whether a session is waiting for a lock on the
// test schema's lease table.
func waitingOnLock(t *testing.T, d db) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%leader_lease%'`, d.schema).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestFencedStoreOfAnEndedTenure: a replica that loses the lease and wins
// it again gets a new token; the old tenure's store stays refused, so work
// begun in the old tenure cannot write in the new one.
func TestFencedStoreOfAnEndedTenure(t *testing.T) {
	d := newDB(t)
	s := d.replica(t)
	a := newLease(t, s, "a", time.Hour, clockwork.NewFakeClock())
	old := mustAcquire(t, a)
	if err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	cur := mustAcquire(t, a)
	if cur.Token() != old.Token()+1 {
		t.Fatalf("tokens %d then %d, want +1", old.Token(), cur.Token())
	}
	if err := old.Put(state.Key{Name: "mail"}); !errors.Is(err, ErrFenced) {
		t.Fatalf("old tenure's Put = %v, want ErrFenced", err)
	}
	if err := old.Check(context.Background()); !errors.Is(err, ErrLost) {
		t.Fatalf("old tenure's Check = %v, want ErrLost", err)
	}
	if err := cur.Put(state.Key{Name: "mail"}); err != nil {
		t.Fatal(err)
	}
	if err := cur.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestAWriteFrozenMidTransactionDoesNotBlockATakeover: a leader frozen
// inside a fenced write (it holds a share lock on the lease row) loses its
// session after IdleInTransaction, so a follower takes the expired lease
// instead of waiting on the lock for as long as the freeze lasts; the
// frozen write never commits.
func TestAWriteFrozenMidTransactionDoesNotBlockATakeover(t *testing.T) {
	d := newDB(t)
	sa, err := pgstore.Open(context.Background(), pgstore.Options{
		DSN: d.dsn, Schema: d.schema, IdleInTransaction: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sa.Close() })
	a := newLease(t, sa, "a", time.Second, clockwork.NewRealClock())
	fs := mustAcquire(t, a)
	ctx := context.Background()
	tx, err := sa.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := fs.check(ctx, tx); err != nil {
		t.Fatalf("the fence of the frozen write: %v", err)
	}
	// The process freezes here, its lock held. A follower campaigns.
	b := newLease(t, d.replica(t), "b", time.Second, clockwork.NewRealClock())
	deadline := time.Now().Add(10 * time.Second)
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		ok, err := b.Acquire(actx)
		cancel()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the follower cannot take over while a write is frozen (last error: %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); err == nil {
		if err := tx.Commit(ctx); err == nil {
			t.Fatal("the frozen write committed after the takeover")
		}
	}
}
