package state

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// Concurrent Puts share commits; every one of them must land, each key
// ending with its last value, and every Put must return.
func TestConcurrentPutsAllLand(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers, puts = 32, 25
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= puts; i++ {
				if err := s.Put(Key{Name: fmt.Sprintf("k%02d", w), Rotations: i}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers {
		t.Fatalf("got %d records, want %d", len(all), writers)
	}
	for _, k := range all {
		if k.Rotations != puts {
			t.Errorf("%s: got rotations %d, want the last value %d", k.Name, k.Rotations, puts)
		}
	}
}

// A Put after Close fails with an error naming the key, and a failed
// commit does not wedge later Puts.
func TestPutAfterCloseFails(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for i := 0; i < 2; i++ {
		err := s.Put(Key{Name: "k"})
		if err == nil {
			t.Fatal("Put after Close succeeded")
		}
		if want := "write state of k: "; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
			t.Errorf("got %q, want it to start with %q", err, want)
		}
	}
}
