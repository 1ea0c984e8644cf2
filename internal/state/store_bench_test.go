package state

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func benchStore(b *testing.B, keys int) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "s.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	for i := 0; i < keys; i++ {
		if err := s.Put(benchRecord(i)); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func benchRecord(i int) Key {
	now := time.Date(2026, 11, 23, 3, 4, 5, 0, time.UTC)
	return Key{Name: fmt.Sprintf("key-%05d", i),
		Current:       &ProviderKey{Provider: "smtpd-prod", ID: "4f6e3c1a-9b1d-4c55-8f0e-7a2b9c3d1e0f", Name: "rotator-key-20261123T030405Z-abc123", CreatedAt: now},
		LastSuccessAt: now, LastAttemptAt: now, LastKeepAliveAt: now, LastUsedAt: now, Rotations: 12}
}

// BenchmarkPut is one durable write at a time: every Put is its own
// fsynced commit, which is what a single key's lifecycle step waits for.
func BenchmarkPut(b *testing.B) {
	s := benchStore(b, 0)
	rec := benchRecord(1)
	b.ResetTimer()
	for b.Loop() {
		if err := s.Put(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutParallel is 4 keys writing at once (max_concurrent's
// default), each to its own record: Puts in flight together share a commit.
func BenchmarkPutParallel(b *testing.B) {
	s := benchStore(b, 0)
	var n atomic.Int64
	b.SetParallelism(4) // × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rec := benchRecord(int(n.Add(1)))
		for pb.Next() {
			if err := s.Put(rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGet reads one record out of 10,000.
func BenchmarkGet(b *testing.B) {
	s := benchStore(b, 0)
	for i := 0; i < 10000; i += 1000 {
		// one commit per 1,000 records, to build the file quickly
		err := s.db.Update(func(tx *bolt.Tx) error {
			for j := i; j < i+1000; j++ {
				js, _ := json.Marshal(benchRecord(j))
				name := []byte(benchRecord(j).Name)
				if err := tx.Bucket(bucketKeys).Put(name, encodeRecord(name, js)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := s.Get(fmt.Sprintf("key-%05d", i%10000)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
