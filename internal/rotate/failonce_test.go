package rotate_test

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/rotator-dev/rotator/internal/providers"
)

// A scheduled rotation that fails is one log line at warn or above, the
// engine's "rotation failed; ..." with the error: the evaluation around
// it does not log the same error again (it did, as a warn "evaluation
// finished with errors"), nor does the provider client (its give-up is
// in the error: "after 3 attempts"). Issue 16: each failure logged once.
func TestScheduledFailureIsLoggedOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.Prov.CreateFunc = func(context.Context, string, map[string]string) (providers.Key, error) {
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonServer, Status: 503, Attempts: 3}
	}
	defer h.Engine.Scheduling()() // as while Serve runs
	h.Engine.RunJob(context.Background(), "key/mail")
	var failures []string
	for _, l := range h.Logs.All() {
		if l.Level >= zapcore.WarnLevel {
			failures = append(failures, l.Message)
		}
	}
	if len(failures) != 1 || failures[0] != "rotation failed; the key has no current provider key yet" {
		t.Fatalf("lines at warn or above %q, want the one rotation failed line", failures)
	}
	f := h.Logs.FilterMessage(failures[0]).All()[0].ContextMap()
	if got := f["error"]; got != "create key: create: server (HTTP 503) after 3 attempts" {
		t.Errorf("error %q", got)
	}
	for _, l := range h.Logs.FilterMessage("evaluation finished with errors").All() {
		if l.Level != zapcore.DebugLevel || !strings.Contains(l.ContextMap()["error"].(string), "after 3 attempts") {
			t.Errorf("evaluation line %s %v, want debug", l.Level, l.ContextMap())
		}
	}
}
