package smtpd_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
)

func TestServerErrorsRetriedForIdempotentCallsOnly(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.srv.FailNext(smtpdtest.OpList, 2, 503)
	_, err := e.p.List(ctx, "")
	if err != nil {
		t.Fatalf("e.p.List: %v", err)
	}
	if got := e.srv.Requests()[smtpdtest.OpList]; got != 3 {
		t.Fatalf("e.srv.Requests()[smtpdtest.OpList] = %v, want %v", got, 3)
	}

	e.srv.FailNext(smtpdtest.OpCreate, 1, 503)
	_, err = e.p.Create(ctx, "five-oh-three", sendOnly)
	if got := providers.ReasonOf(err); got != providers.ReasonServer {
		t.Fatalf("providers.ReasonOf(err) = %q, want %q", got, providers.ReasonServer)
	}
	if got := e.srv.Requests()[smtpdtest.OpCreate]; got != 1 {
		t.Fatalf("create is not retried: got %v, want %v", got, 1)
	}
	if got := err.Error(); !strings.Contains(got, "create: server (HTTP 503, code 50300)") {
		t.Fatalf("got %q, want it to contain %q", got, "create: server (HTTP 503, code 50300)")
	}

	e.srv.FailNext(smtpdtest.OpRevoke, 1, 502)
	k, err := e.p.Create(ctx, "to-revoke", sendOnly)
	if err != nil {
		t.Fatalf("e.p.Create: %v", err)
	}
	if err := e.p.Revoke(ctx, k.ID); err != nil {
		t.Fatalf("e.p.Revoke(ctx, k.ID): %v", err)
	}
	if got := e.srv.Requests()[smtpdtest.OpRevoke]; got != 2 {
		t.Fatalf("e.srv.Requests()[smtpdtest.OpRevoke] = %v, want %v", got, 2)
	}
}

func TestDroppedCreateIsTimeoutAndFoundByName(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.srv.DropNextCreate()
	_, err := e.p.Create(ctx, "rotator-x-20261101-dropped", sendOnly)
	if err == nil {
		t.Fatalf("e.p.Create: got no error, want one")
	}
	if got := providers.ReasonOf(err); got != providers.ReasonTimeout {
		t.Fatalf("%v: got %q, want %q", err, got, providers.ReasonTimeout)
	}
	if got := e.srv.Requests()[smtpdtest.OpCreate]; got != 1 {
		t.Fatalf("not retried: it may have happened: got %v, want %v", got, 1)
	}
	found, err := e.p.List(ctx, "rotator-x-20261101-dropped")
	if err != nil {
		t.Fatalf("e.p.List: %v", err)
	}
	if len(found) != 1 {
		t.Fatalf("len(found) = %d, want %d: %+v", len(found), 1, found)
	}
	if err := e.p.Revoke(ctx, found[0].ID); err != nil {
		t.Fatalf("e.p.Revoke(ctx, found[0].ID): %v", err)
	}
}

func TestRateLimitRespected(t *testing.T) {
	run := func(t *testing.T, clientRate float64) []string {
		e := newEnv(t, envOpt{server: smtpdtest.Config{RateLimit: 1}, rateLimit: clientRate,
			opts: nil})
		stop := e.drive(t, 100*time.Millisecond)
		defer stop()
		if clientRate >= 100 {
			var wg sync.WaitGroup
			for i := 0; i < 3; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = e.p.List(context.Background(), "")
				}()
			}
			wg.Wait()
		} else {
			// One caller at a time: the fake clock only moves while the
			// client waits, so the server sees the client's own pace.
			for i := 0; i < 3; i++ {
				_, err := e.p.List(context.Background(), "")
				if err != nil {
					t.Fatalf("e.p.List: %v", err)
				}
			}
		}
		return e.codes.list()
	}
	t.Run("at 1 rps the server never says 429", func(t *testing.T) {
		got := run(t, 1)
		if got2 := strings.Join(got, " "); strings.Contains(got2, "429") {
			t.Fatalf("got %q, want it not to contain %q", got2, "429")
		}
		if len(got) != 4 {
			t.Fatalf("a login and three lists: %v: len(got) = %d, want %d: %+v", got, len(got), 4, got)
		}
	})
	t.Run("faster than the server, it would", func(t *testing.T) {
		got := run(t, 100)
		if got2 := strings.Join(got, " "); !strings.Contains(got2, "429") {
			t.Fatalf("the check above can fail: got %q, want it to contain %q", got2, "429")
		}
	})
}

func TestRateLimitedCreateWaitsAndSucceeds(t *testing.T) {
	e := newEnv(t, envOpt{})
	_, err := e.p.List(ctx, "") // log in first
	if err != nil {
		t.Fatalf("e.p.List: %v", err)
	}
	e.srv.FailNext(smtpdtest.OpCreate, 1, 429)
	stop := e.drive(t, 250*time.Millisecond)
	defer stop()
	k, err := e.p.Create(ctx, "after-429", sendOnly)
	if err != nil {
		t.Fatalf("a 429 was refused before it took effect: safe to send again: %v", err)
	}
	if got := e.srv.Requests()[smtpdtest.OpCreate]; got != 2 {
		t.Fatalf("e.srv.Requests()[smtpdtest.OpCreate] = %v, want %v", got, 2)
	}
	if got := e.srv.Keys(); len(got) != 1 {
		t.Fatalf("len(e.srv.Keys()) = %d, want %d: %+v", len(got), 1, got)
	}
	if got := e.srv.Keys()[0].ID; got != k.ID {
		t.Fatalf("e.srv.Keys()[0].ID = %q, want %q", got, k.ID)
	}
}

func TestCancelledContext(t *testing.T) {
	e := newEnv(t, envOpt{server: smtpdtest.Config{Latency: time.Hour}})
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := e.p.List(cctx, ""); done <- err }()
	bctx, bcancel := context.WithTimeout(ctx, 10*time.Second)
	defer bcancel()
	if err := e.clock.BlockUntilContext(bctx, 1); err != nil {
		t.Fatalf("e.clock.BlockUntilContext(bctx, 1): %v", err)
	} // the server's latency timer
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got error %v, want one that is %v", err, context.Canceled)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("List did not return after cancel")
	}
}
