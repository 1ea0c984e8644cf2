package leader

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/state/pgstore"
	"github.com/rotator-dev/rotator/internal/state/pgstore/pgtest"
)

// BenchmarkFencedPut: a leader's write, token checked in its transaction
// (compare with pgstore's BenchmarkPut).
func BenchmarkFencedPut(b *testing.B) {
	dsn := pgtest.DSN(b)
	s, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn, Schema: pgtest.Schema(b, dsn)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l, err := New(s, Options{Holder: "bench", TTL: time.Hour, Clock: clockwork.NewFakeClock()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if ok, err := l.Acquire(context.Background()); !ok || err != nil {
		b.Fatal(ok, err)
	}
	fs, err := l.Fenced(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if err := fs.Put(state.Key{Name: fmt.Sprintf("key-%04d", i%1000), Rotations: i}); err != nil {
			b.Fatal(err)
		}
	}
}
