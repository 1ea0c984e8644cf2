package rotate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/rotate"
)

// A one-shot process (run-now, a control command with no daemon) exits
// after its pass: its failure log must not announce a next_attempt that
// nobody will make, but say the next run retries. The daemon, which does
// retry, gives the time.
func TestFailureLogOfAOneShotAnnouncesNoNextAttempt(t *testing.T) {
	h := newHarness(t, nil)
	h.Prov.CreateFunc = func(context.Context, string, map[string]string) (providers.Key, error) {
		return providers.Key{}, errors.New("create refused")
	}
	fields := func() map[string]any { // of the last "rotation failed" line
		t.Helper()
		logs := h.Logs.FilterMessageSnippet("rotation failed").All()
		if len(logs) == 0 {
			t.Fatal("no rotation-failed log line")
		}
		return logs[len(logs)-1].ContextMap()
	}
	if _, err, _ := h.Eval(rotate.Mode{Force: true}); err == nil {
		t.Fatal("want the failed create reported")
	}
	if f := fields(); f["next_attempt"] != nil || f["retry"] == nil {
		t.Errorf("one-shot failure log fields %v: want retry and no next_attempt", f)
	}
	defer h.Engine.Scheduling()() // as while Serve runs
	if _, err, _ := h.Eval(rotate.Mode{Force: true, IgnoreBackoff: true}); err == nil {
		t.Fatal("want the failed create reported")
	}
	if f := fields(); f["next_attempt"] == nil {
		t.Errorf("daemon failure log fields %v: want next_attempt", f)
	}
}
