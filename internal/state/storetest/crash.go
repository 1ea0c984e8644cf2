package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/rotate/rotatetest"
)

// newCrashWorld is the shared engine rig (one key "mail" at an in-memory
// provider with two in-memory sink targets, on a fake clock) over the
// backend's store. A crash is a panic at a failpoint; the process's
// restart is the store closed and opened again at the same location, and
// a new engine: only what the store kept survives.
func newCrashWorld(t *testing.T, b Backend) *rotatetest.Rig {
	t.Helper()
	loc := b.New(t)
	return rotatetest.New(t, rotatetest.Options{Open: loc.Open})
}

// testCrashAtEveryFailpoint kills the engine at every side-effect
// boundary of a rotation and of the revocation after it, restarts it on
// what the store kept, and checks that it converges: no key at the
// provider the store does not track (by id, intent name or watched name),
// no sink holding a key the provider rejects, one active key in every
// sink at the end, and no secret in any record or event.
func testCrashAtEveryFailpoint(t *testing.T, b Backend) {
	for _, point := range rotate.Failpoints {
		t.Run(point, func(t *testing.T) {
			w := newCrashWorld(t, b)
			w.MustEval(rotate.Mode{})
			w.CheckConverged("before the crash")
			w.CrashAt = point
			w.Clock.Advance(24 * time.Hour)
			_, _, crashed := w.Eval(rotate.Mode{})
			if !crashed && strings.Contains(point, "revoke") {
				w.Clock.Advance(time.Hour) // the revocation comes after the grace
				_, _, crashed = w.Eval(rotate.Mode{})
			}
			if !crashed {
				t.Fatalf("failpoint %s was never reached", point)
			}
			w.CheckSafety("right after the crash")
			w.Restart()
			for i := 0; i < 5; i++ {
				_, _, _ = w.Eval(rotate.Mode{}) // a step may fail once (a watched name), then succeed
				w.CheckSafety("after the restart")
				w.Clock.Advance(time.Hour)
			}
			w.CheckConverged("after recovery")
			if got := w.State().Rotations; got < 2 {
				t.Errorf("%d rotations completed, want at least 2", got)
			}
			checkNoSecretStored(t, w)
		})
	}
}

// checkNoSecretStored: no issued secret in a record or an event.
func checkNoSecretStored(t *testing.T, w *rotatetest.Rig) {
	t.Helper()
	all, err := w.Store.All()
	if err != nil {
		t.Fatal(err)
	}
	evs, err := w.Store.Events("", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := json.Marshal([]any{all, evs})
	for _, s := range w.Prov.Issued() {
		if strings.Contains(string(text), s) {
			t.Errorf("secret %s... is in the store", s[:6])
		}
	}
}
