package smtpd_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/providertest"
	"github.com/rotator-dev/rotator/internal/providers/smtpd"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
)

var sendOnly = map[string]string{"role": "send_only"}

func TestContract(t *testing.T) {
	var cur *env
	providertest.Run(t, providertest.Harness{
		NewProvider: func(t *testing.T) providers.Provider {
			cur = newEnv(t, envOpt{})
			return cur.p
		},
		Params:   sendOnly,
		Valid:    func(c providers.Credential) bool { return cur.srv.Valid(c) },
		FailNext: func(op string, n, status int) { cur.srv.FailNext(op, n, status) },
		Secrets:  func() []string { return cur.srv.IssuedSecrets() },
		Requests: func() int {
			n := 0
			for _, v := range cur.srv.Requests() {
				n += v
			}
			return n
		},
	})
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t, envOpt{})
	key, err := e.p.Create(ctx, "rotator-mail-20261101T090000Z-ab12", map[string]string{"role": "iac"})
	if err != nil {
		t.Fatalf("e.p.Create: %v", err)
	}
	rec := e.srv.Keys()[0]
	if key.ID != rec.ID {
		t.Fatalf("key.ID = %q, want %q", key.ID, rec.ID)
	}
	if rec.Role != "iac" {
		t.Fatalf("rec.Role = %q, want %q", rec.Role, "iac")
	}
	if want := (providers.Credential{"key": rec.Key, "secret": rec.Secret}); !reflect.DeepEqual(want, key.Credential) {
		t.Fatalf("key.Credential = %+v, want %+v", key.Credential, want)
	}
	if !strings.ContainsAny(rec.Key, "+/=") {
		t.Fatalf("the server's keys carry + / =: got false, want true")
	}

	got, err := e.p.Get(ctx, key.ID)
	if err != nil {
		t.Fatalf("e.p.Get: %v", err)
	}
	if want := e.clock.Now(); !reflect.DeepEqual(want, got.CreatedAt) {
		t.Fatalf("got.CreatedAt = %+v, want %+v", got.CreatedAt, want)
	}
	if !got.LastUsedAt.IsZero() {
		t.Fatalf("never used yet: got false, want true")
	}

	e.clock.Advance(10 * time.Minute)
	info, err := e.p.Test(ctx, key.ID, key.Credential)
	if err != nil {
		t.Fatalf("e.p.Test: %v", err)
	}
	if !info.Active {
		t.Fatalf("info.Active: got false, want true")
	}
	if want := e.clock.Now(); !reflect.DeepEqual(want, info.LastUsedAt) {
		t.Fatalf("Test is a use of the key, read back: got %+v, want %+v", info.LastUsedAt, want)
	}
	if got := e.srv.Requests()[smtpdtest.OpMe]; got != 1 {
		t.Fatalf("one cheap authenticated read with the key's token: got %v, want %v", got, 1)
	}

	if err := e.p.Revoke(ctx, key.ID); err != nil {
		t.Fatalf("e.p.Revoke(ctx, key.ID): %v", err)
	}
	if err := e.p.Revoke(ctx, key.ID); err != nil {
		t.Fatalf("already revoked: %v", err)
	}
	if err := e.p.Revoke(ctx, "8a1c2f4e-0000-4000-8000-000000000000"); err != nil {
		t.Fatalf("unknown: %v", err)
	}
	if err := e.p.Revoke(ctx, "not/an+id=="); err != nil {
		t.Fatalf("malformed ids cannot exist: %v", err)
	}
	if e.srv.Keys()[0].Active {
		t.Fatalf("e.srv.Keys()[0].Active: got true, want false")
	}
	// One line per step: the engine logs the create and the revocation
	// ("key created", "old key revoked"); the provider adds nothing at info.
	if got := e.logs.FilterLevelExact(zapcore.InfoLevel).Len(); got != 0 {
		t.Fatalf("the provider logged at info: %v: got %v, want zero", e.logs.FilterLevelExact(zapcore.InfoLevel).All(), got)
	}
	_, err = e.p.Test(ctx, key.ID, key.Credential)
	if got := providers.ReasonOf(err); got != providers.ReasonAuth {
		t.Fatalf("providers.ReasonOf(err) = %q, want %q", got, providers.ReasonAuth)
	}
	e.requireNoSecrets(t, err)
}

// TestVerify: Verify is the key's login alone, its token is thrown away
// (the management token stays cached and in use), and smtpd refuses the
// login of a wrong secret, a revoked key and a key revoked for inactivity.
func TestVerify(t *testing.T) {
	e := newEnv(t, envOpt{})
	key, err := e.p.Create(ctx, "rotator-mail-20261101T090000Z-ab12", sendOnly)
	if err != nil {
		t.Fatalf("e.p.Create: %v", err)
	}
	before := e.srv.Requests()
	e.clock.Advance(time.Minute)
	if err := e.p.Verify(ctx, key.ID, key.Credential); err != nil {
		t.Fatalf("e.p.Verify(ctx, key.ID, key.Credential): %v", err)
	}
	after := e.srv.Requests()
	if after[smtpdtest.OpLogin] != before[smtpdtest.OpLogin]+1 {
		t.Fatalf("one login with key:secret: got %v, want %v", after[smtpdtest.OpLogin], before[smtpdtest.OpLogin]+1)
	}
	delete(before, smtpdtest.OpLogin)
	delete(after, smtpdtest.OpLogin)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("and no other request: got %+v, want %+v", after, before)
	}

	// The key's token did not replace the management token: a management
	// call works (a key's token would get 403) without logging in again.
	logins := e.srv.Requests()[smtpdtest.OpLogin]
	info, err := e.p.Get(ctx, key.ID)
	if err != nil {
		t.Fatalf("e.p.Get: %v", err)
	}
	if !info.Active {
		t.Fatalf("info.Active: got false, want true")
	}
	if got := e.srv.Requests()[smtpdtest.OpLogin]; got != logins {
		t.Fatalf("the cached management token was used: got %v, want %v", got, logins)
	}

	wrong := providers.Credential{"key": key.Credential["key"], "secret": key.Credential["secret"] + "x"}
	errWrong := e.p.Verify(ctx, key.ID, wrong)
	if got := providers.ReasonOf(errWrong); got != providers.ReasonAuth {
		t.Fatalf("%v: got %q, want %q", errWrong, got, providers.ReasonAuth)
	}
	var pe *providers.Error
	if !errors.As(errWrong, &pe) {
		t.Fatalf("got error %v, want one that is a %T", errWrong, pe)
	}
	if pe.Code != "40102" {
		t.Fatalf("smtpd's wrong-login code: got %q, want %q", pe.Code, "40102")
	}

	err = e.p.Verify(ctx, key.ID, providers.Credential{"key": key.Credential["key"]})
	if got := providers.ReasonOf(err); got != providers.ReasonClient {
		t.Fatalf("no secret: not sent: got %q, want %q", got, providers.ReasonClient)
	}

	idle, err := e.p.Create(ctx, "rotator-idle-20261101T090000Z-cd34", sendOnly)
	if err != nil {
		t.Fatalf("e.p.Create: %v", err)
	}
	if err := e.p.Revoke(ctx, key.ID); err != nil {
		t.Fatalf("e.p.Revoke(ctx, key.ID): %v", err)
	}
	errRevoked := e.p.Verify(ctx, key.ID, key.Credential)
	if got := providers.ReasonOf(errRevoked); got != providers.ReasonAuth {
		t.Fatalf("%v: got %q, want %q", errRevoked, got, providers.ReasonAuth)
	}

	e.clock.Advance(smtpd.IdleRevocation)
	errIdle := e.p.Verify(ctx, idle.ID, idle.Credential)
	if got := providers.ReasonOf(errIdle); got != providers.ReasonAuth {
		t.Fatalf("a key revoked for inactivity: %v: got %q, want %q", errIdle, got, providers.ReasonAuth)
	}
	got, err := e.p.Get(ctx, idle.ID)
	if err != nil {
		t.Fatalf("e.p.Get: %v", err)
	}
	if got.Active {
		t.Fatalf("got.Active: got true, want false")
	}
	e.requireNoSecrets(t, errWrong, errRevoked, errIdle)
}

func TestListFiltersByPrefix(t *testing.T) {
	e := newEnv(t, envOpt{})
	for _, n := range []string{"rotator-a-1", "rotator-b-1", "rotator-a-2", "manual key"} {
		_, err := e.p.Create(ctx, n, sendOnly)
		if err != nil {
			t.Fatalf("e.p.Create: %v", err)
		}
	}
	got, err := e.p.List(ctx, "rotator-a-")
	if err != nil {
		t.Fatalf("e.p.List: %v", err)
	}
	var names []string
	for _, k := range got {
		names = append(names, k.Name)
		if !k.Active {
			t.Fatalf("k.Active: got false, want true")
		}
		if k.CreatedAt.IsZero() {
			t.Fatalf("k.CreatedAt.IsZero(): got true, want false")
		}
	}
	if want := []string{"rotator-a-1", "rotator-a-2"}; !reflect.DeepEqual(want, names) {
		t.Fatalf("names = %+v, want %+v", names, want)
	}
	all, err := e.p.List(ctx, "")
	if err != nil {
		t.Fatalf("e.p.List: %v", err)
	}
	if len(all) != 4 {
		t.Fatalf("len(all) = %d, want %d: %+v", len(all), 4, all)
	}
}

func TestValidateParams(t *testing.T) {
	for _, role := range smtpd.Roles {
		if err := smtpd.ValidateParams(map[string]string{"role": role}); err != nil {
			t.Fatalf("smtpd.ValidateParams(map[string]string{\"role\": role}): %v", err)
		}
	}
	for _, c := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{}, `role: is required, one of iac, standard, read_only, send_only`},
		{map[string]string{"role": "admin"}, `role: "admin" is not one of iac, standard, read_only, send_only`},
		{map[string]string{"role": "owner"}, `role: "owner" is not one of`},
		{map[string]string{"role": "iac", "scope": "full"}, `scope: unknown param`},
		{map[string]string{"role": ""}, `role: is required`},
	} {
		err := smtpd.ValidateParams(c.params)
		if err == nil {
			t.Fatalf("smtpd.ValidateParams: got no error, want one")
		}
		if got := err.Error(); !strings.Contains(got, c.want) {
			t.Fatalf("got %q, want it to contain %q", got, c.want)
		}
	}
	e := newEnv(t, envOpt{})
	_, err := e.p.Create(ctx, "x", map[string]string{"role": "admin"})
	if got := providers.ReasonOf(err); got != providers.ReasonClient {
		t.Fatalf("providers.ReasonOf(err) = %q, want %q", got, providers.ReasonClient)
	}
	if got := e.srv.Requests()[smtpdtest.OpCreate]; got != 0 {
		t.Fatalf("rejected before any request: got %v, want zero", got)
	}
}

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

func TestInactiveKeyTestReportsInactive(t *testing.T) {
	e := newEnv(t, envOpt{server: smtpdtest.Config{InactivityAfter: 72 * time.Hour}})
	key, err := e.p.Create(ctx, "idle", sendOnly)
	if err != nil {
		t.Fatalf("e.p.Create: %v", err)
	}
	e.clock.Advance(72 * time.Hour)
	info, err := e.p.Test(ctx, key.ID, key.Credential)
	if err == nil {
		t.Fatalf("e.p.Test: got no error, want one")
	}
	if got := providers.ReasonOf(err); got != providers.ReasonAuth {
		t.Fatalf("providers.ReasonOf(err) = %q, want %q", got, providers.ReasonAuth)
	}
	if got := err.Error(); !strings.Contains(got, "inactive") {
		t.Fatalf("got %q, want it to contain %q", got, "inactive")
	}
	if info.ID != key.ID {
		t.Fatalf("info.ID = %q, want %q", info.ID, key.ID)
	}
	if info.Active {
		t.Fatalf("the engine sees an inactive current key: got true, want false")
	}
	e.requireNoSecrets(t, err)
}

func TestKeepAliveKeepsKeyActive(t *testing.T) {
	e := newEnv(t, envOpt{server: smtpdtest.Config{InactivityAfter: 90 * 24 * time.Hour}})
	key, err := e.p.Create(ctx, "kept", sendOnly)
	if err != nil {
		t.Fatalf("e.p.Create: %v", err)
	}
	for i := 0; i < 4; i++ {
		e.clock.Advance(60 * 24 * time.Hour)
		info, err := e.p.Test(ctx, key.ID, key.Credential)
		if err != nil {
			t.Fatalf("e.p.Test: %v", err)
		}
		if !info.Active {
			t.Fatalf("info.Active: got false, want true")
		}
		if want := e.clock.Now(); !reflect.DeepEqual(want, info.LastUsedAt) {
			t.Fatalf("info.LastUsedAt = %+v, want %+v", info.LastUsedAt, want)
		}
	}
	if got := e.p.IdleRevocationAfter(); got != time.Duration(90*24*time.Hour) {
		t.Fatalf("e.p.IdleRevocationAfter() = %v, want %v", got, time.Duration(90*24*time.Hour))
	}
}

func TestNoSecretInErrorsOrLogs(t *testing.T) {
	e := newEnv(t, envOpt{})
	var errs []error
	k, err := e.p.Create(ctx, "leak-check", sendOnly)
	if err != nil {
		t.Fatalf("e.p.Create: %v", err)
	}
	_, err = e.p.Test(ctx, k.ID, k.Credential)
	if err != nil {
		t.Fatalf("e.p.Test: %v", err)
	}
	_, err = e.p.Test(ctx, k.ID, providers.Credential{"key": k.Credential["key"], "secret": "wrong-secret"})
	errs = append(errs, err)
	for _, status := range []int{400, 403, 404, 409, 500} {
		e.srv.FailNext(smtpdtest.OpCreate, 1, status)
		_, err := e.p.Create(ctx, "leak-fail", sendOnly)
		errs = append(errs, err)
	}
	e.srv.FailNext(smtpdtest.OpCreate, 1, 401) // twice: the re-login does not help
	e.srv.FailNext(smtpdtest.OpCreate, 1, 401)
	_, err = e.p.Create(ctx, "leak-401", sendOnly)
	errs = append(errs, err)
	e.srv.DropNextCreate()
	_, err = e.p.Create(ctx, "leak-drop", sendOnly)
	errs = append(errs, err)
	_, err = e.p.Get(ctx, "8a1c2f4e-0000-4000-8000-000000000000")
	errs = append(errs, err)
	e.srv.ExpireAccessTokens()
	if err := e.p.Revoke(ctx, k.ID); err != nil {
		t.Fatalf("e.p.Revoke(ctx, k.ID): %v", err)
	}
	bad := e.provider(t, envOpt{password: "another-wrong-password"})
	_, err = bad.List(ctx, "")
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("failing call %d: got no error, want one", i)
		}
	}
	e.requireNoSecrets(t, errs...)
	for _, err := range errs {
		if got := err.Error(); strings.Contains(got, "another-wrong-password") {
			t.Fatalf("got %q, want it not to contain %q", got, "another-wrong-password")
		}
		if got := err.Error(); strings.Contains(got, "wrong-secret") {
			t.Fatalf("got %q, want it not to contain %q", got, "wrong-secret")
		}
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

func TestObserverLabels(t *testing.T) {
	e := newEnv(t, envOpt{})
	k, err := e.p.Create(ctx, "observed", sendOnly)
	if err != nil {
		t.Fatalf("e.p.Create: %v", err)
	}
	_, err = e.p.Test(ctx, k.ID, k.Credential)
	if err != nil {
		t.Fatalf("e.p.Test: %v", err)
	}
	if err := e.p.Revoke(ctx, k.ID); err != nil {
		t.Fatalf("e.p.Revoke(ctx, k.ID): %v", err)
	}
	if got, want := e.codes.list(), []string{"login:200", "create:201", "test:200", "test:200", "get:200", "revoke:200"}; !reflect.DeepEqual(want, got) {
		t.Fatalf("e.codes.list() = %+v, want %+v", got, want)
	}
}
