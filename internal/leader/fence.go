package leader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/state/pgstore"
)

// FencedStore is the state store of one tenure: the engine's Store whose
// Puts commit only while the lease row still carries the fencing token of
// that tenure, and whose Check passes only while that tenure lasts. A new
// tenure (even of the same replica) needs a new FencedStore.
type FencedStore struct {
	lease *Lease
	store *pgstore.Store
	token int64
}

// Fenced returns the store of the current tenure; ErrNotLeader (or
// ErrLeaseExpired) when there is none.
func (l *Lease) Fenced(ctx context.Context) (*FencedStore, error) {
	token, err := l.held(ctx)
	if err != nil {
		return nil, err
	}
	return &FencedStore{lease: l, store: l.store, token: token}, nil
}

// Token is the tenure's fencing token.
func (f *FencedStore) Token() int64 { return f.token }

// Check returns nil while the tenure lasts by this replica's clock: call
// it before each side effect at a provider or sink.
func (f *FencedStore) Check(ctx context.Context) error {
	token, err := f.lease.held(ctx)
	if err != nil {
		return err
	}
	if token != f.token {
		return fmt.Errorf("%w (tenure %d ended, now %d)", ErrLost, f.token, token)
	}
	return nil
}

// Get reads a record (reads are not fenced).
func (f *FencedStore) Get(name string) (state.Key, error) { return f.store.Get(name) }

// All reads every record.
func (f *FencedStore) All() ([]state.Key, error) { return f.store.All() }

// Put writes the record if, in the write's transaction, the lease row
// still carries this tenure's token; otherwise it fails with ErrFenced.
// The row is read FOR SHARE, so an acquisition waits for this write to
// commit: no write of this tenure commits after a newer token exists.
func (f *FencedStore) Put(k state.Key) error {
	return f.store.PutFenced(k, f.check)
}

// Append records an event of the audit trail, fenced like Put.
func (f *FencedStore) Append(ev state.Event) error { return f.store.AppendFenced(ev, f.check) }

// Events reads the audit trail.
func (f *FencedStore) Events(key string, since time.Time) ([]state.Event, error) {
	return f.store.Events(key, since)
}

// check is the fence: it passes while the lease row carries f's token,
// and holds a share lock on the row until the transaction ends.
func (f *FencedStore) check(ctx context.Context, tx pgx.Tx) error {
	var current int64
	err := tx.QueryRow(ctx, f.lease.fence, f.lease.o.Name).Scan(&current)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w (no lease row)", ErrFenced)
	}
	if err != nil {
		return err
	}
	if current != f.token {
		return fmt.Errorf("%w (token %d, this leader's %d)", ErrFenced, current, f.token)
	}
	return nil
}
