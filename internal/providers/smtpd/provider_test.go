package smtpd_test

import (
	"reflect"
	"strings"
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
