// Package leader elects one acting replica among rotator processes that
// share a PostgreSQL database (pgstore), and fences the writes of a
// deposed one.
//
// The lease is a row of pgstore's leader_lease table: holder, fencing
// token, expiry. Acquire takes the row when it has expired (or is held
// under this replica's own holder id) and increments the token; Renew
// extends the row while holder and token are still ours. A follower's
// Acquire succeeds once the leader has stopped renewing for TTL.
//
// Clocks. Expiry in the row is computed by the database (now() + TTL) and
// compared with the database's now(), so the replicas' clocks need not
// agree with each other or with the server. Each replica also keeps a local
// deadline on its own (injected) clock: the time it sent the last
// successful Acquire or Renew, plus TTL. The server evaluated now() after
// that send, so the local deadline is never later than the row's expiry
// (assuming clock rates agree over one TTL, which NTP-disciplined or not,
// clocks do to far better than a second). Check fails after the local
// deadline, so a leader stops acting before any follower can take over.
//
// A leader paused past its deadline (SIGSTOP, a long GC, a VM freeze) may
// not notice: it can pass Check and then act. Its state writes are refused
// all the same: FencedStore checks, in the write's own transaction and
// under a share lock on the lease row, that the row still carries the
// token of its tenure. An acquisition must wait for that lock, so every
// write either commits before the new token exists or is refused. Its
// provider-side steps are made safe by the engine's intents and name
// lookups (see package rotate).
package leader

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/state/pgstore"
)

// Defaults: a follower takes over within DefaultTTL + DefaultRetryInterval
// (20 s) of the leader's death.
const (
	DefaultName          = "rotator"
	DefaultTTL           = 15 * time.Second
	DefaultRenewInterval = 5 * time.Second
	DefaultRetryInterval = 5 * time.Second
)

var (
	// ErrNotLeader: this replica does not hold the lease.
	ErrNotLeader = errors.New("this replica is not the leader")
	// ErrLeaseExpired: the lease was not renewed in time by this
	// replica's clock; another replica may take it over any moment.
	ErrLeaseExpired = errors.New("leadership lease expired")
	// ErrLost: another replica has taken the lease over.
	ErrLost = errors.New("leadership lease taken over by another replica")
	// ErrFenced: a write of a deposed leader, refused.
	ErrFenced = errors.New("write refused: a newer leader holds the lease")
)

// Options tune a Lease.
type Options struct {
	// Name is the lease row's name; "" means DefaultName.
	Name string
	// Holder identifies this replica in the row and in logs; "" means
	// host-pid-random. It must differ between replicas.
	Holder string
	// TTL is how long an acquisition or renewal holds; 0 means DefaultTTL.
	TTL time.Duration
	// RenewInterval is how often the leader renews (Run); 0 means
	// DefaultRenewInterval. It must be below TTL.
	RenewInterval time.Duration
	// RetryInterval is how often a follower tries to acquire (Run); 0
	// means DefaultRetryInterval.
	RetryInterval time.Duration
	Clock         clockwork.Clock
	Logger        *zap.Logger
}

// Lease is one replica's view of the leadership lease.
type Lease struct {
	store *pgstore.Store
	// pool is the lease's own (2 connections), so that renewals never
	// queue behind the engine's state writes; FencedStore writes through
	// the store's.
	pool *pgxpool.Pool
	o    Options

	acquire, renew, release, fence, current string

	mu       sync.Mutex
	token    int64     // 0 when not held
	deadline time.Time // local clock: held until then
}

// New returns this replica's Lease on the store's database, with a pool of
// its own made from the store's settings; it does not connect yet. Close
// it after Run returns.
func New(s *pgstore.Store, o Options) (*Lease, error) {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Holder == "" {
		o.Holder = defaultHolder()
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.RenewInterval == 0 {
		o.RenewInterval = min(DefaultRenewInterval, o.TTL/3)
	}
	if o.RetryInterval == 0 {
		o.RetryInterval = min(DefaultRetryInterval, o.TTL/3)
	}
	if o.TTL < time.Millisecond || o.RenewInterval <= 0 || o.RenewInterval >= o.TTL || o.RetryInterval <= 0 {
		return nil, fmt.Errorf("leader: renew_interval %s must be positive and below ttl %s, retry_interval %s positive",
			o.RenewInterval, o.TTL, o.RetryInterval)
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	cfg := s.Pool().Config()
	cfg.MaxConns, cfg.MinConns = 2, 0
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("leader: %w", err)
	}
	t := s.Table("leader_lease")
	ttl := "make_interval(secs => $3::float8)"
	return &Lease{
		store: s,
		pool:  pool,
		o:     o,
		acquire: "INSERT INTO " + t + " AS l (name, holder, token, acquired_at, renewed_at, expires_at)" +
			" VALUES ($1, $2, 1, now(), now(), now() + " + ttl + ")" +
			" ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = l.token + 1," +
			" acquired_at = now(), renewed_at = now(), expires_at = excluded.expires_at" +
			" WHERE l.expires_at <= now() OR l.holder = excluded.holder RETURNING l.token",
		renew: "UPDATE " + t + " SET renewed_at = now(), expires_at = now() + make_interval(secs => $4::float8)" +
			" WHERE name = $1 AND holder = $2 AND token = $3",
		release: "UPDATE " + t + " SET expires_at = now() WHERE name = $1 AND holder = $2 AND token = $3",
		fence:   "SELECT token FROM " + t + " WHERE name = $1 FOR SHARE",
		current: "SELECT holder FROM " + t + " WHERE name = $1 AND expires_at > now()",
	}, nil
}

func defaultHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Close closes the lease's connections (not the store's).
func (l *Lease) Close() { l.pool.Close() }

// Holder is this replica's holder id.
func (l *Lease) Holder() string { return l.o.Holder }

// Acquire takes the lease if it has expired (by the database's clock) or
// is already this holder's, with a new fencing token. It reports whether
// this replica now holds it.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	sent := l.o.Clock.Now()
	var token int64
	err := l.pool.QueryRow(ctx, l.acquire, l.o.Name, l.o.Holder, l.o.TTL.Seconds()).Scan(&token)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.token = 0
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return false, fmt.Errorf("acquire the leadership lease: %w", err)
	}
	l.token, l.deadline = token, sent.Add(l.o.TTL)
	return true, nil
}

// Renew extends the lease while the row still carries this tenure's
// holder and token; ErrLost when it does not (the lease is then dropped).
// After an error other than ErrLost the lease is still held until the
// local deadline and Renew may be retried.
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	token := l.token
	l.mu.Unlock()
	if token == 0 {
		return ErrNotLeader
	}
	sent := l.o.Clock.Now()
	tag, err := l.pool.Exec(ctx, l.renew, l.o.Name, l.o.Holder, token, l.o.TTL.Seconds())
	if err != nil {
		return fmt.Errorf("renew the leadership lease: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.token != token {
		return ErrLost
	}
	if tag.RowsAffected() == 0 {
		l.token = 0
		return ErrLost
	}
	l.deadline = sent.Add(l.o.TTL)
	return nil
}

// Release gives the lease up (its row expires now), so that a follower
// takes over without waiting for the TTL.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	token := l.token
	l.token = 0
	l.mu.Unlock()
	if token == 0 {
		return nil
	}
	if _, err := l.pool.Exec(ctx, l.release, l.o.Name, l.o.Holder, token); err != nil {
		return fmt.Errorf("release the leadership lease: %w", err)
	}
	return nil
}

// Check returns nil while this replica holds the lease by its own clock:
// call it before each side effect. It does not query the database.
func (l *Lease) Check(ctx context.Context) error {
	_, err := l.held(ctx)
	return err
}

// held returns the current token, or why the lease is not held.
func (l *Lease) held(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.token == 0 {
		return 0, ErrNotLeader
	}
	if now := l.o.Clock.Now(); !now.Before(l.deadline) {
		return 0, fmt.Errorf("%w %s ago (token %d)", ErrLeaseExpired, now.Sub(l.deadline), l.token)
	}
	return l.token, nil
}

// Leading reports whether Check would pass (for the rotator_leader gauge).
func (l *Lease) Leading() bool { return l.Check(context.Background()) == nil }

// Token is the fencing token of the current tenure (0 when not held).
func (l *Lease) Token() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.token
}

// deadlineOf is the local deadline of the tenure with token (zero when
// that tenure is over).
func (l *Lease) deadlineOf(token int64) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.token != token {
		return time.Time{}
	}
	return l.deadline
}
