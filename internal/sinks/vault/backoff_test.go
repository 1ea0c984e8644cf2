package vault

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestRetryBackoffHonoursRetryAfterAndCaps(t *testing.T) {
	resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": []string{"7"}}}
	if got := retryBackoff(time.Second, 2*time.Second, 0, resp); got != 7*time.Second {
		t.Errorf("with Retry-After: %s, want 7s", got)
	}
	for attempt := range 6 {
		if got := retryBackoff(time.Second, 2*time.Second, attempt, nil); got < time.Second/2 || got > 2*time.Second {
			t.Errorf("attempt %d: %s, want within [0.5s, 2s]", attempt, got)
		}
	}
}

// Each retry of a failing Vault request is logged at info as attempt n of
// max_attempts, with the request and the status.
func TestRetriesAreLoggedAsAttemptNOfN(t *testing.T) {
	defer SetRetryWait(time.Millisecond)()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(`{"data":{"k":"v"}}`))
	}))
	defer srv.Close()
	core, logs := observer.New(zapcore.DebugLevel)
	c, err := newClient(Config{Address: srv.URL}, "", zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken("t")
	if _, err := c.Logical().ReadWithContext(t.Context(), "secret/data/app"); err != nil {
		t.Fatal(err)
	}
	retries := logs.FilterMessage("vault request failed; retrying").All()
	if len(retries) != 2 || hits.Load() != 3 {
		t.Fatalf("%d retry lines for %d requests, want 2 for 3", len(retries), hits.Load())
	}
	for i, e := range retries {
		f := e.ContextMap()
		want := map[string]any{"attempt": int64(i + 1), "max_attempts": int64(3), "method": "GET", "path": "/v1/secret/data/app",
			"status": int64(502), "retry_in": f["retry_in"]}
		if e.Level != zapcore.InfoLevel || !maps.Equal(f, want) {
			t.Errorf("retry %d: %s %v, want info %v", i+1, e.Level, f, want)
		}
	}
}
