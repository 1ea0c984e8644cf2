package storetest_test

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/state/storetest"
)

// TestBbolt runs the contract against the embedded bbolt file.
func TestBbolt(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		New: func(t *testing.T) storetest.Location {
			path := filepath.Join(t.TempDir(), "state.db")
			return storetest.Location{
				Open: func() (storetest.Store, error) { return state.Open(path, state.Options{}) },
				MakeFuture: func() error {
					db, err := bolt.Open(path, 0o600, nil)
					if err != nil {
						return err
					}
					defer db.Close()
					return db.Update(func(tx *bolt.Tx) error {
						return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("99"))
					})
				},
			}
		},
		ErrFutureSchema: state.ErrFutureSchema,
	})
}
