package rotate

import (
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Every line of a key carries its name as "key", first, and the caller is
// the engine's call site, not the wrapper.
func TestKeyLogAddsTheKeyField(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	l := newKeyLog(zap.New(core, zap.AddCaller()).WithOptions(zap.AddCallerSkip(2)), "mail")
	l.Info("rotation started", zap.String("reason", "forced"))
	l.With(zap.String("orphan_key_id", "7")).Warn("orphan")
	l.Debug("d")
	l.Error("e")
	entries := logs.All()
	if len(entries) != 4 {
		t.Fatalf("got %d entries, want 4", len(entries))
	}
	for _, e := range entries {
		if got := e.ContextMap()["key"]; got != "mail" {
			t.Errorf("%q: key = %v, want mail", e.Message, got)
		}
		if e.Context[0].Key != "key" {
			t.Errorf("%q: first field %q, want key", e.Message, e.Context[0].Key)
		}
		if strings.HasSuffix(e.Caller.File, "keylog.go") {
			t.Errorf("%q: caller %s is the wrapper", e.Message, e.Caller)
		}
	}
	if got := entries[1].ContextMap()["orphan_key_id"]; got != "7" {
		t.Errorf("With lost its field: %v", entries[1].ContextMap())
	}
}
