package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/state"
)

// testConcurrentPutsLastValue is the group commit's promise (bbolt batches
// the Puts that arrive during a commit; PostgreSQL commits each on its own
// connection): writers that each Put their key over and over, all at once,
// all return, every Put is durable when it returns (read back at once),
// each key ends with its writer's last value, and the store is usable
// after. A Put after Close fails, naming the key, and does not hang.
func testConcurrentPutsLastValue(t *testing.T, b Backend) {
	s, _ := open(t, b)
	const writers, puts = 32, 12
	var wg sync.WaitGroup
	errs := make(chan error, writers*puts)
	for w := range writers {
		wg.Go(func() {
			name := fmt.Sprintf("k%02d", w)
			for i := 1; i <= puts; i++ {
				if err := s.Put(state.Key{Name: name, Rotations: i}); err != nil {
					errs <- err
					return
				}
				if got, err := s.Get(name); err != nil || got.Rotations != i {
					errs <- fmt.Errorf("%s read back after Put %d: rotations %d, %v", name, i, got.Rotations, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := s.All()
	if err != nil || len(all) != writers {
		t.Fatalf("All() = %d records, %v; want %d", len(all), err, writers)
	}
	for _, k := range all {
		if k.Rotations != puts {
			t.Errorf("%s: rotations %d, want the last value %d", k.Name, k.Rotations, puts)
		}
	}
	putAfterClose(t, b.New(t))
}

// putAfterClose: a closed store refuses a Put with an error naming the
// key, twice (a failed commit does not wedge the next), within seconds.
func putAfterClose(t *testing.T, loc Location) {
	t.Helper()
	s, err := loc.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		done := make(chan error, 1)
		go func() { done <- s.Put(state.Key{Name: "late"}) }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "late") {
				t.Fatalf("Put after Close: %v, want an error naming the key", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Put after Close hangs")
		}
	}
}
