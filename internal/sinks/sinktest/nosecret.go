package sinktest

import (
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// AssertNoSecret fails the test when text contains any of the secrets.
// Empty secrets are ignored. The failure message names which secret (by
// position) leaked, not its value.
func AssertNoSecret(t testing.TB, text string, secrets ...string) {
	t.Helper()
	for i, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("secret #%d leaked into %q", i, redact(text, secrets))
		}
	}
}

// AssertLogsNoSecret fails the test when any captured log entry contains
// one of the secrets: in its message, its logger name, any field's value as
// logged (before JSON escaping) or its JSON encoding.
func AssertLogsNoSecret(t testing.TB, logs *observer.ObservedLogs, secrets ...string) {
	t.Helper()
	for _, e := range logs.All() {
		AssertNoSecret(t, e.Message+" "+e.LoggerName+" "+e.Caller.String()+" "+e.Stack, secrets...)
		for k, v := range e.ContextMap() {
			AssertNoSecret(t, fmt.Sprintf("%s=%v", k, v), secrets...)
		}
		AssertNoSecret(t, entryText(e), secrets...)
	}
}

func entryText(e observer.LoggedEntry) string {
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{MessageKey: "msg", LevelKey: "level", NameKey: "logger",
		EncodeLevel: zapcore.LowercaseLevelEncoder})
	buf, err := enc.EncodeEntry(e.Entry, e.Context)
	if err != nil {
		return e.Message
	}
	defer buf.Free()
	return buf.String()
}

func redact(text string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			text = strings.ReplaceAll(text, s, "<SECRET>")
		}
	}
	return text
}
