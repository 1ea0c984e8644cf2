package hooks

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rotator-dev/rotator/internal/backoff"
	"github.com/rotator-dev/rotator/internal/config"
)

// receiver is a webhook endpoint that verifies every request as the docs
// tell consumers to, and keeps the events it accepted.
type receiver struct {
	*httptest.Server
	key []byte
	// status answers each request (nil: 204).
	status func(n int) int

	mu     sync.Mutex
	events []Event
	bad    []string
	n      atomic.Int32
}

func newReceiver(t *testing.T, key string) *receiver {
	rc := &receiver{key: []byte(key)}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	n := int(rc.n.Add(1))
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var e Event
	switch {
	case r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json":
		rc.bad = append(rc.bad, "method or content type: "+r.Method+" "+r.Header.Get("Content-Type"))
	case !Verify(rc.key, body, r.Header.Get(HeaderSignature)):
		rc.bad = append(rc.bad, "signature does not verify: "+r.Header.Get(HeaderSignature))
	case json.Unmarshal(body, &e) != nil:
		rc.bad = append(rc.bad, "body is not JSON: "+string(body))
	case r.Header.Get(HeaderTimestamp) != strconv.FormatInt(e.SentAt.Unix(), 10) || r.Header.Get(HeaderEvent) != e.Event ||
		r.Header.Get(HeaderDelivery) != e.ID:
		rc.bad = append(rc.bad, "headers disagree with the signed body: "+string(body))
	case time.Since(e.SentAt).Abs() > 5*time.Minute:
		rc.bad = append(rc.bad, "stale sent_at: "+string(body))
	}
	if rc.status != nil {
		if c := rc.status(n); c != 0 {
			w.WriteHeader(c)
			return
		}
	}
	rc.events = append(rc.events, e)
	w.WriteHeader(http.StatusNoContent)
}

func webhook(url, key string) config.Hook {
	return config.Hook{Name: "notify", Type: config.HookWebhook, URL: url, HMACKey: config.Secret(key), Timeout: 5 * time.Second}
}

// Every event the key subscribes to reaches the receiver signed, in the
// order it happened; events it does not subscribe to, and other keys'
// events, do not.
func TestWebhookDeliversSignedEventsInOrder(t *testing.T) {
	rc := newReceiver(t, "hmac-key\n")
	g := newRig(t, Options{Hooks: []config.Hook{webhook(rc.URL, "hmac-key\n")}, Keys: []config.Key{
		keyWith("mail", config.HookRef{Hook: "notify", On: []string{config.EventConverged, config.EventRevoked}}),
		keyWith("other"),
	}, UserAgent: "rotator/test"})
	g.r.Notify(event(config.EventConverged, "mail", "k2", "k1"))
	g.r.Notify(event(config.EventFailed, "mail", "k2", "k1"))
	g.r.Notify(event(config.EventConverged, "other", "o2"))
	g.r.Notify(event(config.EventRevoked, "mail", "k1", "k1"))
	g.r.Start(nil)
	g.waitRuns("notify", 2)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Fatalf("the receiver refused: %q", rc.bad)
	}
	var got []string
	for _, e := range rc.events {
		got = append(got, e.Event+" "+e.Key+" "+e.KeyID)
	}
	if !slices.Equal(got, []string{"converged mail k2", "revoked mail k1"}) {
		t.Fatalf("events %q, want converged then revoked of mail", got)
	}
	e := rc.events[0]
	if !slices.Equal(e.OldKeyIDs, []string{"k1"}) || len(e.Targets) != 2 || !e.Time.Equal(t0) || len(e.ID) != 32 {
		t.Errorf("event %+v", e)
	}
	if g.runs("notify", "converged", "success") != 1 || g.runs("notify", "revoked", "success") != 1 {
		t.Errorf("runs: %s", g.logText())
	}
}

// A 5xx is retried with the backoff (the same delivery id), a 4xx is not;
// every attempt is signed afresh.
func TestWebhookRetries(t *testing.T) {
	rc := newReceiver(t, "k")
	rc.status = func(n int) int {
		switch n {
		case 1, 2:
			return http.StatusServiceUnavailable
		case 4:
			return http.StatusUnauthorized
		}
		return 0
	}
	g := newRig(t, Options{Hooks: []config.Hook{webhook(rc.URL, "k")},
		Keys:  []config.Key{keyWith("mail", config.HookRef{Hook: "notify", On: config.Events})},
		Retry: backoff.Policy{Base: time.Millisecond, Max: time.Millisecond}, Attempts: 3})
	g.r.Start(nil)
	g.r.Notify(event(config.EventConverged, "mail", "k2", "k1"))
	g.waitRuns("notify", 1)
	g.r.Notify(event(config.EventFailed, "mail", "k2", "k1"))
	g.waitRuns("notify", 2)
	if n := rc.n.Load(); n != 4 {
		t.Errorf("%d requests, want 3 for converged (two 503s) and 1 for failed (401, not retried)", n)
	}
	if g.runs("notify", "converged", "success") != 1 || g.runs("notify", "failed", "failure") != 1 {
		t.Errorf("runs wrong:\n%s", g.logText())
	}
	if !strings.Contains(g.logText(), "receiver answered 401 Unauthorized (not retried)") {
		t.Errorf("the failure is not logged:\n%s", g.logText())
	}
	if len(rc.bad) > 0 {
		t.Errorf("bad requests: %q", rc.bad)
	}
}

// A webhook's URL may carry a token in its path: no error or log line
// repeats it.
func TestWebhookErrorsDoNotRepeatTheURL(t *testing.T) {
	rc := newReceiver(t, "k")
	url := rc.URL + "/T0KEN-in-the-path"
	rc.Close() // connection refused
	g := newRig(t, Options{Hooks: []config.Hook{webhook(url, "k")},
		Keys:  []config.Key{keyWith("mail", config.HookRef{Hook: "notify", On: config.Events})},
		Retry: backoff.Policy{Base: time.Millisecond, Max: time.Millisecond}, Attempts: 2})
	g.r.Start(nil)
	g.r.Notify(event(config.EventFailed, "mail", "k2"))
	g.waitRuns("notify", 1)
	if logs := g.logText(); strings.Contains(logs, "T0KEN") || !strings.Contains(logs, "connection refused") {
		t.Errorf("logs:\n%s", logs)
	}
}

// Every label set exists at zero from the start.
func TestMetricsStartAtZero(t *testing.T) {
	g := newRig(t, Options{Hooks: []config.Hook{webhook("https://h", "k")}})
	want := `# HELP rotator_hook_runs_total Runs of hooks by hook, event and result (success, failure, dropped).
# TYPE rotator_hook_runs_total counter
`
	for _, ev := range []string{"converged", "emergency", "failed", "revoked"} {
		for _, res := range []string{"dropped", "failure", "success"} {
			want += `rotator_hook_runs_total{event="` + ev + `",hook="notify",result="` + res + `"} 0` + "\n"
		}
	}
	if err := testutil.GatherAndCompare(g.reg, strings.NewReader(want), "rotator_hook_runs_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(g.reg, "rotator_hook_duration_seconds"); err != nil || n != 1 {
		t.Errorf("duration series: %d, %v", n, err)
	}
}
