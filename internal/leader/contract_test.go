package leader

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotator-dev/rotator/internal/state/pgstore"
	"github.com/rotator-dev/rotator/internal/state/pgstore/pgtest"
	"github.com/rotator-dev/rotator/internal/state/storetest"
)

// closingFenced is a leader's FencedStore that closes its lease and
// store.
type closingFenced struct {
	*FencedStore
	close func()
}

func (c closingFenced) Close() error {
	c.close()
	return nil
}

// TestFencedStoreKeepsTheContract: the leader's store is a state store
// like the others.
func TestFencedStoreKeepsTheContract(t *testing.T) {
	dsn := pgtest.DSN(t)
	storetest.Run(t, storetest.Backend{
		New: func(t *testing.T) storetest.Location {
			schema := pgtest.Schema(t, dsn)
			return storetest.Location{
				Open: func() (storetest.Store, error) {
					s, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn, Schema: schema})
					if err != nil {
						return nil, err
					}
					l, err := New(s, Options{TTL: time.Hour, Clock: clockwork.NewFakeClock()})
					if err != nil {
						s.Close()
						return nil, err
					}
					closeAll := func() {
						l.Release(context.Background())
						l.Close()
						s.Close()
					}
					if _, err := l.Acquire(context.Background()); err != nil {
						closeAll()
						return nil, err
					}
					fs, err := l.Fenced(context.Background())
					if err != nil {
						closeAll()
						return nil, err
					}
					return closingFenced{fs, closeAll}, nil
				},
				MakeFuture: func() error {
					pgtest.Exec(t, dsn, "INSERT INTO "+schema+".schema_migrations (version) VALUES (99)")
					return nil
				},
			}
		},
		ErrFutureSchema: pgstore.ErrFutureSchema,
	})
}
