package pgstore_test

import (
	"context"
	"testing"

	"github.com/rotator-dev/rotator/internal/state/pgstore"
	"github.com/rotator-dev/rotator/internal/state/pgstore/pgtest"
	"github.com/rotator-dev/rotator/internal/state/storetest"
)

// TestContract runs the store contract against PostgreSQL, each subtest
// in a schema of its own.
func TestContract(t *testing.T) {
	dsn := pgtest.DSN(t)
	storetest.Run(t, storetest.Backend{
		New: func(t *testing.T) storetest.Location {
			schema := pgtest.Schema(t, dsn)
			return storetest.Location{
				Open: func() (storetest.Store, error) {
					return pgstore.Open(context.Background(), pgstore.Options{DSN: dsn, Schema: schema})
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
