package rotate_test

import (
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/rotate/rotatetest"
	"github.com/rotator-dev/rotator/internal/state"
)

var t0 = rotatetest.T0

// harness is the shared rig (rotatetest): one managed key "mail" at an
// in-memory provider with two in-memory sink targets, on a fake clock and
// a real state file. This package's helpers are its methods.
type harness struct{ *rotatetest.Rig }

func newHarness(t *testing.T, mutate func(*config.Key)) *harness {
	t.Helper()
	return &harness{rotatetest.New(t, rotatetest.Options{Key: mutate})}
}

func withCurrent(created time.Time) state.Key {
	return state.Key{Name: "k", Current: &state.ProviderKey{ID: "1", CreatedAt: created}, LastSuccessAt: created}
}
