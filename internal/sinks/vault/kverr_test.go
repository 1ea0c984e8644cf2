package vault_test

import (
	"context"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/sinks"
)

// TestKVErrorsNameTheTargetOnce: the api's KV helpers prefix their own
// path to a failed request's error; the sink's errors name the target and
// the cause, without that prefix.
func TestKVErrorsNameTheTargetOnce(t *testing.T) {
	f := setup(t)
	s := newSink(t, f, f.authYAML("token"), sinks.Deps{})
	path := uniquePath("errors")
	tg := bind(t, s, path)
	if _, err := tg.Write(t.Context(), write("k1", sinks.Secret{"key": "sk_1"})); err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	s.proxy.mu.Lock()
	s.proxy.stall = make(chan struct{})
	s.proxy.mu.Unlock()
	defer close(s.proxy.stall)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := tg.Read(ctx)
	if want := "read vault secret/" + path + ": context deadline exceeded"; err == nil || err.Error() != want {
		t.Fatalf("tg.Read: got error %v, want %q", err, want)
	}
}
