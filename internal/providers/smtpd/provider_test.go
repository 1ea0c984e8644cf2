package smtpd_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
	require.NoError(t, err)
	rec := e.srv.Keys()[0]
	require.Equal(t, rec.ID, key.ID)
	require.Equal(t, "iac", rec.Role)
	require.Equal(t, providers.Credential{"key": rec.Key, "secret": rec.Secret}, key.Credential)
	require.True(t, strings.ContainsAny(rec.Key, "+/="), "the server's keys carry + / =")

	got, err := e.p.Get(ctx, key.ID)
	require.NoError(t, err)
	require.Equal(t, e.clock.Now(), got.CreatedAt)
	require.True(t, got.LastUsedAt.IsZero(), "never used yet")

	e.clock.Advance(10 * time.Minute)
	info, err := e.p.Test(ctx, key.ID, key.Credential)
	require.NoError(t, err)
	require.True(t, info.Active)
	require.Equal(t, e.clock.Now(), info.LastUsedAt, "Test is a use of the key, read back")
	require.Equal(t, 1, e.srv.Requests()[smtpdtest.OpMe], "one cheap authenticated read with the key's token")

	require.NoError(t, e.p.Revoke(ctx, key.ID))
	require.NoError(t, e.p.Revoke(ctx, key.ID), "already revoked")
	require.NoError(t, e.p.Revoke(ctx, "8a1c2f4e-0000-4000-8000-000000000000"), "unknown")
	require.NoError(t, e.p.Revoke(ctx, "not/an+id=="), "malformed ids cannot exist")
	require.False(t, e.srv.Keys()[0].Active)
	// One line per step: the engine logs the create and the revocation
	// ("key created", "old key revoked"); the provider adds nothing at info.
	require.Zero(t, e.logs.FilterLevelExact(zapcore.InfoLevel).Len(), "the provider logged at info: %v", e.logs.FilterLevelExact(zapcore.InfoLevel).All())
	_, err = e.p.Test(ctx, key.ID, key.Credential)
	require.Equal(t, providers.ReasonAuth, providers.ReasonOf(err))
	e.requireNoSecrets(t, err)
}

// TestVerify: Verify is the key's login alone, its token is thrown away
// (the management token stays cached and in use), and smtpd refuses the
// login of a wrong secret, a revoked key and a key revoked for inactivity.
func TestVerify(t *testing.T) {
	e := newEnv(t, envOpt{})
	key, err := e.p.Create(ctx, "rotator-mail-20261101T090000Z-ab12", sendOnly)
	require.NoError(t, err)
	before := e.srv.Requests()
	e.clock.Advance(time.Minute)
	require.NoError(t, e.p.Verify(ctx, key.ID, key.Credential))
	after := e.srv.Requests()
	require.Equal(t, before[smtpdtest.OpLogin]+1, after[smtpdtest.OpLogin], "one login with key:secret")
	delete(before, smtpdtest.OpLogin)
	delete(after, smtpdtest.OpLogin)
	require.Equal(t, before, after, "and no other request")

	// The key's token did not replace the management token: a management
	// call works (a key's token would get 403) without logging in again.
	logins := e.srv.Requests()[smtpdtest.OpLogin]
	info, err := e.p.Get(ctx, key.ID)
	require.NoError(t, err)
	require.True(t, info.Active)
	require.Equal(t, logins, e.srv.Requests()[smtpdtest.OpLogin], "the cached management token was used")

	wrong := providers.Credential{"key": key.Credential["key"], "secret": key.Credential["secret"] + "x"}
	errWrong := e.p.Verify(ctx, key.ID, wrong)
	require.Equal(t, providers.ReasonAuth, providers.ReasonOf(errWrong), "%v", errWrong)
	var pe *providers.Error
	require.ErrorAs(t, errWrong, &pe)
	require.Equal(t, "40102", pe.Code, "smtpd's wrong-login code")

	err = e.p.Verify(ctx, key.ID, providers.Credential{"key": key.Credential["key"]})
	require.Equal(t, providers.ReasonClient, providers.ReasonOf(err), "no secret: not sent")

	idle, err := e.p.Create(ctx, "rotator-idle-20261101T090000Z-cd34", sendOnly)
	require.NoError(t, err)
	require.NoError(t, e.p.Revoke(ctx, key.ID))
	errRevoked := e.p.Verify(ctx, key.ID, key.Credential)
	require.Equal(t, providers.ReasonAuth, providers.ReasonOf(errRevoked), "%v", errRevoked)

	e.clock.Advance(smtpd.IdleRevocation)
	errIdle := e.p.Verify(ctx, idle.ID, idle.Credential)
	require.Equal(t, providers.ReasonAuth, providers.ReasonOf(errIdle), "a key revoked for inactivity: %v", errIdle)
	got, err := e.p.Get(ctx, idle.ID)
	require.NoError(t, err)
	require.False(t, got.Active)
	e.requireNoSecrets(t, errWrong, errRevoked, errIdle)
}

func TestListFiltersByPrefix(t *testing.T) {
	e := newEnv(t, envOpt{})
	for _, n := range []string{"rotator-a-1", "rotator-b-1", "rotator-a-2", "manual key"} {
		_, err := e.p.Create(ctx, n, sendOnly)
		require.NoError(t, err)
	}
	got, err := e.p.List(ctx, "rotator-a-")
	require.NoError(t, err)
	var names []string
	for _, k := range got {
		names = append(names, k.Name)
		require.True(t, k.Active)
		require.False(t, k.CreatedAt.IsZero())
	}
	require.Equal(t, []string{"rotator-a-1", "rotator-a-2"}, names)
	all, err := e.p.List(ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 4)
}

func TestValidateParams(t *testing.T) {
	for _, role := range smtpd.Roles {
		require.NoError(t, smtpd.ValidateParams(map[string]string{"role": role}))
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
		require.Error(t, err)
		require.Contains(t, err.Error(), c.want)
	}
	e := newEnv(t, envOpt{})
	_, err := e.p.Create(ctx, "x", map[string]string{"role": "admin"})
	require.Equal(t, providers.ReasonClient, providers.ReasonOf(err))
	require.Zero(t, e.srv.Requests()[smtpdtest.OpCreate], "rejected before any request")
}

func TestTokenIsCachedThenRefreshed(t *testing.T) {
	e := newEnv(t, envOpt{server: smtpdtest.Config{TokenTTL: time.Hour}})
	for i := 0; i < 5; i++ {
		_, err := e.p.List(ctx, "")
		require.NoError(t, err)
	}
	require.Equal(t, 1, e.srv.Requests()[smtpdtest.OpLogin], "token cached")
	e.clock.Advance(54 * time.Minute)
	_, err := e.p.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, 1, e.srv.Requests()[smtpdtest.OpLogin])
	require.Zero(t, e.srv.Requests()[smtpdtest.OpRefresh])
	e.clock.Advance(time.Minute) // within the last 5 minutes of the token's life
	_, err = e.p.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, 1, e.srv.Requests()[smtpdtest.OpRefresh], "renewed with the refresh token")
	require.Equal(t, 1, e.srv.Requests()[smtpdtest.OpLogin])
	e.requireNoSecrets(t)
}

func TestLogsInAgainWhenRefreshTokenExpired(t *testing.T) {
	e := newEnv(t, envOpt{server: smtpdtest.Config{TokenTTL: time.Hour}})
	_, err := e.p.List(ctx, "")
	require.NoError(t, err)
	e.clock.Advance(31 * 24 * time.Hour) // access and refresh tokens both expired
	_, err = e.p.List(ctx, "")
	require.NoError(t, err)
	req := e.srv.Requests()
	require.Equal(t, 1, req[smtpdtest.OpRefresh], "tried the refresh token")
	require.Equal(t, 2, req[smtpdtest.OpLogin], "then logged in again")
	require.Equal(t, 2, req[smtpdtest.OpList], "no failed list call")
}

func TestLogsInAgainOn401(t *testing.T) {
	e := newEnv(t, envOpt{})
	_, err := e.p.List(ctx, "")
	require.NoError(t, err)
	e.srv.ExpireAccessTokens() // the server forgot the token early
	key, err := e.p.Create(ctx, "after-401", sendOnly)
	require.NoError(t, err)
	require.True(t, e.srv.Valid(key.Credential))
	req := e.srv.Requests()
	require.Equal(t, 2, req[smtpdtest.OpLogin])
	require.Equal(t, 2, req[smtpdtest.OpCreate], "the 401 create, then the retry")
	require.Len(t, e.srv.Keys(), 1, "a 401 create took no effect")
}

func TestBadManagementLogin(t *testing.T) {
	e := newEnv(t, envOpt{})
	p := e.provider(t, envOpt{password: "wrong-password-value"})
	_, err := p.List(ctx, "")
	require.Error(t, err)
	require.Equal(t, providers.ReasonAuth, providers.ReasonOf(err))
	require.Contains(t, err.Error(), "login: auth (HTTP 403, code 40102): Username and password are incorrect")
	require.NotContains(t, err.Error(), "wrong-password-value")
	require.Equal(t, 1, e.srv.Requests()[smtpdtest.OpLogin], "a 403 login is not retried")
	e.requireNoSecrets(t, err)
}

func TestServerErrorsRetriedForIdempotentCallsOnly(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.srv.FailNext(smtpdtest.OpList, 2, 503)
	_, err := e.p.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, 3, e.srv.Requests()[smtpdtest.OpList])

	e.srv.FailNext(smtpdtest.OpCreate, 1, 503)
	_, err = e.p.Create(ctx, "five-oh-three", sendOnly)
	require.Equal(t, providers.ReasonServer, providers.ReasonOf(err))
	require.Equal(t, 1, e.srv.Requests()[smtpdtest.OpCreate], "create is not retried")
	require.Contains(t, err.Error(), "create: server (HTTP 503, code 50300)")

	e.srv.FailNext(smtpdtest.OpRevoke, 1, 502)
	k, err := e.p.Create(ctx, "to-revoke", sendOnly)
	require.NoError(t, err)
	require.NoError(t, e.p.Revoke(ctx, k.ID))
	require.Equal(t, 2, e.srv.Requests()[smtpdtest.OpRevoke])
}

func TestDroppedCreateIsTimeoutAndFoundByName(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.srv.DropNextCreate()
	_, err := e.p.Create(ctx, "rotator-x-20261101-dropped", sendOnly)
	require.Error(t, err)
	require.Equal(t, providers.ReasonTimeout, providers.ReasonOf(err), "%v", err)
	require.Equal(t, 1, e.srv.Requests()[smtpdtest.OpCreate], "not retried: it may have happened")
	found, err := e.p.List(ctx, "rotator-x-20261101-dropped")
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.NoError(t, e.p.Revoke(ctx, found[0].ID))
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
				require.NoError(t, err)
			}
		}
		return e.codes.list()
	}
	t.Run("at 1 rps the server never says 429", func(t *testing.T) {
		got := run(t, 1)
		require.NotContains(t, strings.Join(got, " "), "429")
		require.Len(t, got, 4, "a login and three lists: %v", got)
	})
	t.Run("faster than the server, it would", func(t *testing.T) {
		got := run(t, 100)
		require.Contains(t, strings.Join(got, " "), "429", "the check above can fail")
	})
}

func TestRateLimitedCreateWaitsAndSucceeds(t *testing.T) {
	e := newEnv(t, envOpt{})
	_, err := e.p.List(ctx, "") // log in first
	require.NoError(t, err)
	e.srv.FailNext(smtpdtest.OpCreate, 1, 429)
	stop := e.drive(t, 250*time.Millisecond)
	defer stop()
	k, err := e.p.Create(ctx, "after-429", sendOnly)
	require.NoError(t, err, "a 429 was refused before it took effect: safe to send again")
	require.Equal(t, 2, e.srv.Requests()[smtpdtest.OpCreate])
	require.Len(t, e.srv.Keys(), 1)
	require.Equal(t, k.ID, e.srv.Keys()[0].ID)
}

func TestInactiveKeyTestReportsInactive(t *testing.T) {
	e := newEnv(t, envOpt{server: smtpdtest.Config{InactivityAfter: 72 * time.Hour}})
	key, err := e.p.Create(ctx, "idle", sendOnly)
	require.NoError(t, err)
	e.clock.Advance(72 * time.Hour)
	info, err := e.p.Test(ctx, key.ID, key.Credential)
	require.Error(t, err)
	require.Equal(t, providers.ReasonAuth, providers.ReasonOf(err))
	require.Contains(t, err.Error(), "inactive")
	require.Equal(t, key.ID, info.ID)
	require.False(t, info.Active, "the engine sees an inactive current key")
	e.requireNoSecrets(t, err)
}

func TestKeepAliveKeepsKeyActive(t *testing.T) {
	e := newEnv(t, envOpt{server: smtpdtest.Config{InactivityAfter: 90 * 24 * time.Hour}})
	key, err := e.p.Create(ctx, "kept", sendOnly)
	require.NoError(t, err)
	for i := 0; i < 4; i++ {
		e.clock.Advance(60 * 24 * time.Hour)
		info, err := e.p.Test(ctx, key.ID, key.Credential)
		require.NoError(t, err)
		require.True(t, info.Active)
		require.Equal(t, e.clock.Now(), info.LastUsedAt)
	}
	require.Equal(t, time.Duration(90*24*time.Hour), e.p.IdleRevocationAfter())
}

func TestNoSecretInErrorsOrLogs(t *testing.T) {
	e := newEnv(t, envOpt{})
	var errs []error
	k, err := e.p.Create(ctx, "leak-check", sendOnly)
	require.NoError(t, err)
	_, err = e.p.Test(ctx, k.ID, k.Credential)
	require.NoError(t, err)
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
	require.NoError(t, e.p.Revoke(ctx, k.ID))
	bad := e.provider(t, envOpt{password: "another-wrong-password"})
	_, err = bad.List(ctx, "")
	errs = append(errs, err)
	for _, err := range errs {
		require.Error(t, err)
	}
	e.requireNoSecrets(t, errs...)
	for _, err := range errs {
		require.NotContains(t, err.Error(), "another-wrong-password")
		require.NotContains(t, err.Error(), "wrong-secret")
	}
}

func TestCancelledContext(t *testing.T) {
	e := newEnv(t, envOpt{server: smtpdtest.Config{Latency: time.Hour}})
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := e.p.List(cctx, ""); done <- err }()
	bctx, bcancel := context.WithTimeout(ctx, 10*time.Second)
	defer bcancel()
	require.NoError(t, e.clock.BlockUntilContext(bctx, 1)) // the server's latency timer
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
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
		require.NoError(t, err)
	}
	require.Equal(t, 1, e.srv.Requests()[smtpdtest.OpLogin])
	require.Equal(t, 10, e.srv.Requests()[smtpdtest.OpList])
}

func TestObserverLabels(t *testing.T) {
	e := newEnv(t, envOpt{})
	k, err := e.p.Create(ctx, "observed", sendOnly)
	require.NoError(t, err)
	_, err = e.p.Test(ctx, k.ID, k.Credential)
	require.NoError(t, err)
	require.NoError(t, e.p.Revoke(ctx, k.ID))
	require.Equal(t, []string{"login:200", "create:201", "test:200", "test:200", "get:200", "revoke:200"}, e.codes.list())
}
