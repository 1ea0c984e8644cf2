package pgstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/state/pgstore/pgtest"
)

func benchStore(b *testing.B) *Store {
	dsn := pgtest.DSN(b)
	s, err := Open(context.Background(), Options{DSN: dsn, Schema: pgtest.Schema(b, dsn)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func benchKey(i int) state.Key {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return state.Key{Name: fmt.Sprintf("key-%04d", i%1000), LastSuccessAt: at, Rotations: i,
		Current: &state.ProviderKey{Provider: "smtpd", ID: "id", Name: "rotator-x", CreatedAt: at}}
}

// BenchmarkPut: one committed write at a time (a rotation step).
func BenchmarkPut(b *testing.B) {
	s := benchStore(b)
	for i := 0; b.Loop(); i++ {
		if err := s.Put(benchKey(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutParallel: writes from concurrent rotations (the pool's 4
// connections).
func BenchmarkPutParallel(b *testing.B) {
	s := benchStore(b)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Put(benchKey(int(n.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	for i := range 1000 {
		if err := s.Put(benchKey(i)); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; b.Loop(); i++ {
		if _, err := s.Get(benchKey(i).Name); err != nil {
			b.Fatal(err)
		}
	}
}
