package rotate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/rotate"
)

// oneLine returns the fields of the only line with msg, failing unless
// there is exactly one and it is at level.
func oneLine(t *testing.T, logs *observer.ObservedLogs, msg string, level zapcore.Level) map[string]any {
	t.Helper()
	lines := logs.FilterMessage(msg).All()
	if len(lines) != 1 {
		t.Fatalf("%d %q lines, want 1", len(lines), msg)
	}
	if lines[0].Level != level {
		t.Errorf("%q at %s, want %s", msg, lines[0].Level, level)
	}
	return lines[0].ContextMap()
}

func wantFields(t *testing.T, msg string, got, want map[string]any) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%q: fields %v, want %v", msg, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q: %s = %v, want %v", msg, k, got[k], v)
		}
	}
}

// The verify and read-back steps are logged, once each, at info; the
// completion names until when the old key stays valid, and only when
// there is an old key (issue 16: one line per step).
func TestVerifyReadBackAndOldKeyValidityAreLogged(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	first := h.State().Current.ID
	wantFields(t, "new key verified at the provider", oneLine(t, h.Logs, "new key verified at the provider", zapcore.InfoLevel),
		map[string]any{"key": "mail", "key_id": first})
	wantFields(t, "every sink read back the new key", oneLine(t, h.Logs, "every sink read back the new key", zapcore.InfoLevel),
		map[string]any{"key": "mail", "key_id": first, "targets": int64(2)})
	wantFields(t, "rotation complete", oneLine(t, h.Logs, "rotation complete", zapcore.InfoLevel),
		map[string]any{"key": "mail", "key_id": first, "reason": "no_key", "pending_revocations": int64(0)})

	h.Clock.Advance(time.Minute)
	h.MustEval(rotate.Mode{Force: true})
	lines := h.Logs.FilterMessage("rotation complete").All()
	if len(lines) != 2 {
		t.Fatalf("%d rotation complete lines, want 2", len(lines))
	}
	got := lines[1].ContextMap()
	want := t0.Add(time.Minute + time.Hour) // now + grace
	if v, ok := got["old_key_valid_until"].(time.Time); !ok || !v.Equal(want) {
		t.Errorf("old_key_valid_until = %v, want %v (fields %v)", got["old_key_valid_until"], want, got)
	}
	if got["pending_revocations"] != int64(1) {
		t.Errorf("pending_revocations = %v, want 1", got["pending_revocations"])
	}
}

// A rotation that fails before the key ever had a provider key does not
// say that "the current key stays in place": there is none. Once there is
// one, it does.
func TestFailedRotationNamesWhatStaysInPlace(t *testing.T) {
	h := newHarness(t, nil)
	create := h.Prov.CreateFunc
	h.Prov.CreateFunc = func(context.Context, string, map[string]string) (providers.Key, error) {
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonClient, Status: 400}
	}
	if _, err, _ := h.Eval(rotate.Mode{}); err == nil {
		t.Fatal("the create failed but the evaluation did not")
	}
	for _, e := range h.Logs.All() {
		if strings.Contains(e.Message, "stays in place") {
			t.Errorf("first rotation failed, yet logged %q", e.Message)
		}
	}
	got := oneLine(t, h.Logs, "rotation failed; the key has no current provider key yet", zapcore.ErrorLevel)
	if got["error"] != "create key: create: client (HTTP 400)" || got["consecutive_failures"] != int64(1) {
		t.Errorf("fields %v", got)
	}

	h.Prov.CreateFunc = create
	h.Clock.Advance(time.Hour)
	h.MustEval(rotate.Mode{Force: true})
	h.Prov.CreateFunc = func(context.Context, string, map[string]string) (providers.Key, error) {
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonClient, Status: 400}
	}
	if _, err, _ := h.Eval(rotate.Mode{Force: true}); err == nil {
		t.Fatal("the create failed but the evaluation did not")
	}
	oneLine(t, h.Logs, "rotation failed; the current key stays in place", zapcore.ErrorLevel)
}
