package rotate_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/rotate"
)

// A new key the provider does not accept at once is verified again, each
// retry logged at info as attempt n of max_attempts with the error.
func TestVerifyRetriesAreLoggedAsAttemptNOfN(t *testing.T) {
	h := newHarness(t, nil)
	calls := 0
	h.Prov.VerifyFunc = func(context.Context, string, providers.Credential) error {
		if calls++; calls <= 2 {
			return &providers.Error{Op: "verify", Reason: providers.ReasonAuth, Status: 401}
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { _, err, _ := h.Eval(rotate.Mode{}); done <- err }()
	for i := 1; i <= 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := h.Clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatal(err)
		}
		cancel()
		h.Clock.Advance(time.Duration(i) * time.Second)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	id := h.State().Current.ID
	lines := h.Logs.FilterMessage("new key not verified yet; retrying").All()
	if len(lines) != 2 {
		t.Fatalf("%d retry lines, want 2", len(lines))
	}
	for i, e := range lines {
		want := map[string]any{"key": "mail", "key_id": id, "attempt": int64(i + 1), "max_attempts": int64(3),
			"retry_in": time.Duration(i+1) * time.Second, "error": "verify: auth (HTTP 401)"}
		got := e.ContextMap()
		if e.Level != zapcore.InfoLevel || len(got) != len(want) {
			t.Errorf("line %d: %s %v, want info %v", i, e.Level, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
	}
}
