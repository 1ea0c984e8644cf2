package smtpd_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
)

func TestTokenIsCachedThenRefreshed(t *testing.T) {
	e := newEnv(t, envOpt{server: smtpdtest.Config{TokenTTL: time.Hour}})
	for i := 0; i < 5; i++ {
		_, err := e.p.List(ctx, "")
		if err != nil {
			t.Fatalf("e.p.List: %v", err)
		}
	}
	if got := e.srv.Requests()[smtpdtest.OpLogin]; got != 1 {
		t.Fatalf("token cached: got %v, want %v", got, 1)
	}
	e.clock.Advance(54 * time.Minute)
	_, err := e.p.List(ctx, "")
	if err != nil {
		t.Fatalf("e.p.List: %v", err)
	}
	if got := e.srv.Requests()[smtpdtest.OpLogin]; got != 1 {
		t.Fatalf("e.srv.Requests()[smtpdtest.OpLogin] = %v, want %v", got, 1)
	}
	if got := e.srv.Requests()[smtpdtest.OpRefresh]; got != 0 {
		t.Fatalf("e.srv.Requests()[smtpdtest.OpRefresh] = %v, want zero", got)
	}
	e.clock.Advance(time.Minute) // within the last 5 minutes of the token's life
	_, err = e.p.List(ctx, "")
	if err != nil {
		t.Fatalf("e.p.List: %v", err)
	}
	if got := e.srv.Requests()[smtpdtest.OpRefresh]; got != 1 {
		t.Fatalf("renewed with the refresh token: got %v, want %v", got, 1)
	}
	if got := e.srv.Requests()[smtpdtest.OpLogin]; got != 1 {
		t.Fatalf("e.srv.Requests()[smtpdtest.OpLogin] = %v, want %v", got, 1)
	}
	e.requireNoSecrets(t)
}

func TestLogsInAgainWhenRefreshTokenExpired(t *testing.T) {
	e := newEnv(t, envOpt{server: smtpdtest.Config{TokenTTL: time.Hour}})
	_, err := e.p.List(ctx, "")
	if err != nil {
		t.Fatalf("e.p.List: %v", err)
	}
	e.clock.Advance(31 * 24 * time.Hour) // access and refresh tokens both expired
	_, err = e.p.List(ctx, "")
	if err != nil {
		t.Fatalf("e.p.List: %v", err)
	}
	req := e.srv.Requests()
	if req[smtpdtest.OpRefresh] != 1 {
		t.Fatalf("tried the refresh token: got %v, want %v", req[smtpdtest.OpRefresh], 1)
	}
	if req[smtpdtest.OpLogin] != 2 {
		t.Fatalf("then logged in again: got %v, want %v", req[smtpdtest.OpLogin], 2)
	}
	if req[smtpdtest.OpList] != 2 {
		t.Fatalf("no failed list call: got %v, want %v", req[smtpdtest.OpList], 2)
	}
}

func TestLogsInAgainOn401(t *testing.T) {
	e := newEnv(t, envOpt{})
	_, err := e.p.List(ctx, "")
	if err != nil {
		t.Fatalf("e.p.List: %v", err)
	}
	e.srv.ExpireAccessTokens() // the server forgot the token early
	key, err := e.p.Create(ctx, "after-401", sendOnly)
	if err != nil {
		t.Fatalf("e.p.Create: %v", err)
	}
	if !e.srv.Valid(key.Credential) {
		t.Fatalf("e.srv.Valid(key.Credential): got false, want true")
	}
	req := e.srv.Requests()
	if req[smtpdtest.OpLogin] != 2 {
		t.Fatalf("req[smtpdtest.OpLogin] = %v, want %v", req[smtpdtest.OpLogin], 2)
	}
	if req[smtpdtest.OpCreate] != 2 {
		t.Fatalf("the 401 create, then the retry: got %v, want %v", req[smtpdtest.OpCreate], 2)
	}
	if got := e.srv.Keys(); len(got) != 1 {
		t.Fatalf("a 401 create took no effect: len(e.srv.Keys()) = %d, want %d: %+v", len(got), 1, got)
	}
}

func TestBadManagementLogin(t *testing.T) {
	e := newEnv(t, envOpt{})
	p := e.provider(t, envOpt{password: "wrong-password-value"})
	_, err := p.List(ctx, "")
	if err == nil {
		t.Fatalf("p.List: got no error, want one")
	}
	if got := providers.ReasonOf(err); got != providers.ReasonAuth {
		t.Fatalf("providers.ReasonOf(err) = %q, want %q", got, providers.ReasonAuth)
	}
	if got := err.Error(); !strings.Contains(got, "login: auth (HTTP 403, code 40102): Username and password are incorrect") {
		t.Fatalf("got %q, want it to contain %q", got, "login: auth (HTTP 403, code 40102): Username and password are incorrect")
	}
	if got := err.Error(); strings.Contains(got, "wrong-password-value") {
		t.Fatalf("got %q, want it not to contain %q", got, "wrong-password-value")
	}
	if got := e.srv.Requests()[smtpdtest.OpLogin]; got != 1 {
		t.Fatalf("a 403 login is not retried: got %v, want %v", got, 1)
	}
	e.requireNoSecrets(t, err)
}

func TestConcurrentCallersShareOneLogin(t *testing.T) {
	e := newEnv(t, envOpt{})
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.p.List(ctx, "")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
	}
	if got := e.srv.Requests()[smtpdtest.OpLogin]; got != 1 {
		t.Fatalf("e.srv.Requests()[smtpdtest.OpLogin] = %v, want %v", got, 1)
	}
	if got := e.srv.Requests()[smtpdtest.OpList]; got != 10 {
		t.Fatalf("e.srv.Requests()[smtpdtest.OpList] = %v, want %v", got, 10)
	}
}
