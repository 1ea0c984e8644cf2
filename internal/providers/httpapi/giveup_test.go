package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// A request whose retries run out returns an error that says how many
// attempts were made, and logs no failure of its own above debug: its
// caller (the engine) logs that error once, so one failure is one line
// (issue 16). Only the retries are at info.
func TestGiveUpIsInTheErrorNotASecondLogLine(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	c := e.client(t, httpapi.Config{MaxRetries: 2})
	ch := goDo(context.Background(), c, httpapi.Request{Op: "list", Method: "GET", Path: "/k", Idempotent: true})
	for i := 0; i < 2; i++ {
		e.rec.next(t)
		e.blockUntil(t, 1)
		e.clock.Advance(time.Second)
	}
	e.rec.next(t)
	err := wait(t, ch).err
	if err == nil || err.Error() != "list: server (HTTP 503) after 3 attempts" {
		t.Fatalf("error %v, want %q", err, "list: server (HTTP 503) after 3 attempts")
	}
	for _, l := range e.logs.All() {
		if l.Level >= zapcore.WarnLevel {
			t.Errorf("%s %q: the give-up is the caller's one failure line, not the client's", l.Level, l.Message)
		}
	}
	if n := e.logs.FilterLevelExact(zapcore.InfoLevel).FilterMessage("provider request failed; retrying").Len(); n != 2 {
		t.Errorf("%d retry lines at info, want 2", n)
	}
}

// A request sent once says nothing of attempts.
func TestSingleAttemptErrorHasNoAttemptCount(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	c := e.client(t, httpapi.Config{MaxRetries: 2})
	err := wait(t, goDo(context.Background(), c, httpapi.Request{Op: "create", Method: "POST", Path: "/k"})).err
	if err == nil || err.Error() != "create: server (HTTP 503)" {
		t.Fatalf("error %v, want %q", err, "create: server (HTTP 503)")
	}
}
