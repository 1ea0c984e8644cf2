package emailit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/backend"
	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/emailit/emailittest"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

var ctx = context.Background()

func reasonOf(t *testing.T, err error, want providers.Reason) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *providers.Error", err)
	}
	if pe.Reason != want {
		t.Fatalf("reason %q, want %q (%v)", pe.Reason, want, err)
	}
	return pe
}

func TestLifecycle(t *testing.T) {
	for _, scfg := range []emailittest.Config{
		{},
		{Quirky: true, StringIDs: true, PageURLStyle: emailittest.PageURLPath},
	} {
		t.Run(fmt.Sprintf("quirky=%v", scfg.Quirky), func(t *testing.T) {
			e := newEnv(t, scfg, nil)
			p := e.p
			for _, params := range []map[string]string{
				{"scope": "sending", "sending_domain_id": "42"},
				{"scope": "sending", "sending_domain_id": "dom_abc"},
				{},
			} {
				name := "rotator-mail-" + params["sending_domain_id"]
				k, err := p.Create(ctx, name, params)
				if err != nil {
					t.Fatalf("create: %v", e.track(err))
				}
				if k.ID == "" || k.Name != name || !k.Active || !k.CreatedAt.Equal(epoch) && !k.CreatedAt.After(epoch) {
					t.Fatalf("created %+v", k.KeyInfo)
				}
				if len(k.Credential) != 1 || !strings.HasPrefix(k.Credential["api_key"], "secret_") || !e.srv.Valid(k.Credential) {
					t.Fatal("the credential is not the issued key")
				}
				rec := record(t, e.srv, k.ID)
				wantScope := params["scope"]
				if wantScope == "" {
					wantScope = "full"
				}
				if rec.Scope != wantScope || rec.Name != name {
					t.Fatalf("server holds %+v", rec)
				}
				if wantScope == "sending" && rec.SendingDomainID != params["sending_domain_id"] {
					t.Fatalf("sending_domain_id %q, want %q", rec.SendingDomainID, params["sending_domain_id"])
				}

				got, err := p.Get(ctx, k.ID)
				if err != nil || got.ID != k.ID || got.Name != name || !got.CreatedAt.Equal(k.CreatedAt) {
					t.Fatalf("get: %+v, %v", got, e.track(err))
				}
				list, err := p.List(ctx, name)
				if err != nil || len(list) != 1 || list[0].ID != k.ID {
					t.Fatalf("list by name: %+v, %v", list, e.track(err))
				}

				info, err := p.Test(ctx, k.ID, k.Credential)
				if err != nil || info.ID != k.ID || !info.Active {
					t.Fatalf("test: %+v, %v", info, e.track(err))
				}
				if err := p.Revoke(ctx, k.ID); err != nil {
					t.Fatalf("revoke: %v", e.track(err))
				}
				if e.srv.Valid(k.Credential) {
					t.Fatal("the key still works after Revoke")
				}
				if err := p.Revoke(ctx, k.ID); err != nil {
					t.Fatalf("second revoke: %v", e.track(err))
				}
				_, err = p.Get(ctx, k.ID)
				if !providers.IsNotFound(e.track(err)) {
					t.Fatalf("get after revoke: %v", err)
				}
				_, err = p.Test(ctx, k.ID, k.Credential)
				reasonOf(t, e.track(err), providers.ReasonAuth)
			}
		})
	}
}

func record(t *testing.T, s *emailittest.Server, id string) emailittest.KeyRecord {
	t.Helper()
	for _, k := range s.Keys() {
		if k.ID == id {
			return k
		}
	}
	t.Fatalf("no key %s at the server", id)
	return emailittest.KeyRecord{}
}

func TestTestRecordsUse(t *testing.T) {
	e := newEnv(t, emailittest.Config{}, nil)
	k, err := e.p.Create(ctx, "rotator-full", nil)
	if err != nil {
		t.Fatal(e.track(err))
	}
	if !k.LastUsedAt.IsZero() {
		t.Fatalf("a new key has last_used_at %v", k.LastUsedAt)
	}
	e.clock.Advance(72 * time.Hour)
	before := e.clock.Now().Truncate(time.Second)
	info, err := e.p.Test(ctx, k.ID, k.Credential)
	if err != nil {
		t.Fatal(e.track(err))
	}
	if info.LastUsedAt.Before(before) {
		t.Fatalf("last_used_at %v, want at least %v", info.LastUsedAt, before)
	}
	if got := record(t, e.srv, k.ID).LastUsedAt; !got.Equal(info.LastUsedAt) {
		t.Fatalf("server last_used_at %v, Test says %v", got, info.LastUsedAt)
	}

	// A sending key cannot read: Test confirms it through the management key.
	s, err := e.p.Create(ctx, "rotator-send", map[string]string{"scope": "sending"})
	if err != nil {
		t.Fatal(e.track(err))
	}
	info, err = e.p.Test(ctx, s.ID, s.Credential)
	if err != nil || info.ID != s.ID || !info.Active {
		t.Fatalf("sending key test: %+v %v", info, e.track(err))
	}

	// A credential the service does not know.
	_, err = e.p.Test(ctx, k.ID, providers.Credential{"api_key": "secret_" + strings.Repeat("Z", 32)})
	reasonOf(t, e.track(err), providers.ReasonAuth)
	_, err = e.p.Test(ctx, k.ID, providers.Credential{"key": "x"})
	reasonOf(t, e.track(err), providers.ReasonClient)

	// The key was deleted outside rotator, its secret still held.
	e.srv.DeleteKey(s.ID)
	_, err = e.p.Test(ctx, s.ID, s.Credential)
	reasonOf(t, e.track(err), providers.ReasonAuth)
}

// TestVerify: Verify is the one request Test starts with, made with the key
// itself; a sending key's 403 proves it authenticates, a 401 is rejected.
func TestVerify(t *testing.T) {
	e := newEnv(t, emailittest.Config{}, nil)
	total := func() int {
		n := 0
		for _, v := range e.srv.Requests() {
			n += v
		}
		return n
	}
	for _, scope := range []string{"full", "sending", "events"} {
		k, err := e.p.Create(ctx, "rotator-verify-"+scope, map[string]string{"scope": scope})
		if err != nil {
			t.Fatal(e.track(err))
		}
		before, gets := total(), e.srv.Requests()[emailittest.OpGet]
		if err := e.p.Verify(ctx, k.ID, k.Credential); err != nil {
			t.Fatalf("%s key: %v", scope, e.track(err))
		}
		if n := total() - before; n != 1 {
			t.Errorf("%s key: Verify made %d requests, want 1", scope, n)
		}
		if e.srv.Requests()[emailittest.OpGet] != gets {
			t.Errorf("%s key: Verify read the key through the management key", scope)
		}
	}

	k, err := e.p.Create(ctx, "rotator-verify-deleted", map[string]string{"scope": "sending"})
	if err != nil {
		t.Fatal(e.track(err))
	}
	err = e.p.Verify(ctx, k.ID, providers.Credential{"api_key": k.Credential["api_key"] + "x"})
	reasonOf(t, e.track(err), providers.ReasonAuth)
	err = e.p.Verify(ctx, k.ID, providers.Credential{"key": "x"})
	reasonOf(t, e.track(err), providers.ReasonClient)
	e.srv.DeleteKey(k.ID)
	err = e.p.Verify(ctx, k.ID, k.Credential)
	reasonOf(t, e.track(err), providers.ReasonAuth)

	// A 429 or a 5xx is retried, as for Test.
	k, err = e.p.Create(ctx, "rotator-verify-retried", nil)
	if err != nil {
		t.Fatal(e.track(err))
	}
	e.srv.FailNext(emailittest.OpList, 1, http.StatusServiceUnavailable)
	if err := e.p.Verify(ctx, k.ID, k.Credential); err != nil {
		t.Fatalf("after a 503: %v", e.track(err))
	}
}

func TestCreateConflict(t *testing.T) {
	e := newEnv(t, emailittest.Config{}, nil)
	earlier := e.srv.CreateKey("rotator-mail-20261123-abc", "sending")
	_, err := e.p.Create(ctx, "rotator-mail-20261123-abc", map[string]string{"scope": "sending"})
	pe := reasonOf(t, e.track(err), providers.ReasonConflict)
	if pe.Status != 409 {
		t.Fatalf("conflict error %+v", pe)
	}
	// What the engine does next: find it by name, delete it and create
	// under a new name.
	found, err := e.p.List(ctx, "rotator-mail-20261123-abc")
	if err != nil || len(found) != 1 || found[0].ID != earlier.ID {
		t.Fatalf("List by name: %+v, %v", found, e.track(err))
	}
	if err := e.p.Revoke(ctx, found[0].ID); err != nil {
		t.Fatal(e.track(err))
	}
	k, err := e.p.Create(ctx, "rotator-mail-20261123-abd", map[string]string{"scope": "sending"})
	if err != nil {
		t.Fatal(e.track(err))
	}
	if e.srv.Valid(providers.Credential{"api_key": earlier.Key}) || !e.srv.Valid(k.Credential) {
		t.Fatal("the conflicting key survived or the new one is not valid")
	}
}

func TestDroppedCreate(t *testing.T) {
	e := newEnv(t, emailittest.Config{}, nil)
	e.srv.DropNextCreate()
	_, err := e.p.Create(ctx, "rotator-dropped", nil)
	reasonOf(t, e.track(err), providers.ReasonTimeout)
	if got := e.srv.Requests()[emailittest.OpCreate]; got != 1 {
		t.Fatalf("create sent %d times; a create must never be retried after a dropped connection", got)
	}
	list, err := e.p.List(ctx, "rotator-dropped")
	if err != nil || len(list) != 1 || list[0].Name != "rotator-dropped" {
		t.Fatalf("list by the recorded name: %+v, %v", list, e.track(err))
	}
	if err := e.p.Revoke(ctx, list[0].ID); err != nil {
		t.Fatal(e.track(err))
	}
	if len(e.srv.Keys()) != 1 {
		t.Fatalf("keys left: %+v", e.srv.Keys())
	}
}

func TestPagination(t *testing.T) {
	for _, style := range []string{emailittest.PageURLAbsolute, emailittest.PageURLPath} {
		t.Run(style, func(t *testing.T) {
			e := newEnv(t, emailittest.Config{PageURLStyle: style}, nil)
			want := map[string]bool{}
			for i := 0; i < 250; i++ {
				want[e.srv.CreateKey(fmt.Sprintf("rotator-k-%03d", i), "sending").ID] = true
				if i%10 == 0 {
					e.srv.CreateKey(fmt.Sprintf("other-%03d", i), "")
				}
			}
			list, err := e.p.List(ctx, "rotator-")
			if err != nil {
				t.Fatal(e.track(err))
			}
			if len(list) != 250 {
				t.Fatalf("listed %d keys, want 250", len(list))
			}
			for _, k := range list {
				if !want[k.ID] {
					t.Fatalf("unexpected or duplicate key %+v", k)
				}
				delete(want, k.ID)
			}
			all, err := e.p.List(ctx, "")
			if err != nil || len(all) != 250+25+1 {
				t.Fatalf("list all: %d keys, %v", len(all), e.track(err))
			}
			if got := e.srv.Requests()[emailittest.OpList] - e.srv.RateLimited(); got != 6 {
				t.Fatalf("%d list pages answered, want 3 per listing (limit=100)", got)
			}
		})
	}
}

func TestRateLimitedCallsSucceed(t *testing.T) {
	e := newEnv(t, emailittest.Config{}, nil)
	e.srv.FailNext(emailittest.OpCreate, 2, http.StatusTooManyRequests)
	e.srv.FailNext(emailittest.OpList, 1, http.StatusTooManyRequests)
	e.srv.FailNext(emailittest.OpGet, 1, http.StatusTooManyRequests)
	e.srv.FailNext(emailittest.OpDelete, 1, http.StatusTooManyRequests)
	k, err := e.p.Create(ctx, "rotator-rl", nil)
	if err != nil {
		t.Fatalf("create through 429s: %v", e.track(err))
	}
	if _, err := e.p.List(ctx, "rotator-"); err != nil {
		t.Fatalf("list through a 429: %v", e.track(err))
	}
	if _, err := e.p.Test(ctx, k.ID, k.Credential); err != nil {
		t.Fatalf("test through a 429: %v", e.track(err))
	}
	if err := e.p.Revoke(ctx, k.ID); err != nil {
		t.Fatalf("revoke through a 429: %v", e.track(err))
	}
	if got := e.srv.Requests()[emailittest.OpCreate]; got != 3 {
		t.Fatalf("create sent %d times, want 3 (two refused with 429)", got)
	}
	if e.drv.Advanced() < 5*time.Second {
		t.Fatalf("the client waited only %v of Retry-After: 1 for five 429s", e.drv.Advanced())
	}

	// The server's own sliding window: a client allowed 100/s sends three
	// creates at once; the third is refused and retried after Retry-After.
	e2 := newEnv(t, emailittest.Config{}, func(c *Config) { c.RateLimit = 100 })
	for i := 0; i < 3; i++ {
		if _, err := e2.p.Create(ctx, fmt.Sprintf("rotator-fast-%d", i), nil); err != nil {
			t.Fatalf("create %d: %v", i, e2.track(err))
		}
	}
	if got, want := e2.srv.RateLimited(), 1; got != want {
		t.Fatalf("RateLimited = %d, want %d", got, want)
	}
	if got, want := e2.srv.Requests()[emailittest.OpCreate], 4; got != want {
		t.Fatalf("create sent %d times, want %d", got, want)
	}

	// The engine's default four concurrent rotations at the default rate
	// all succeed, whatever the window refuses on the way.
	e3 := newEnv(t, emailittest.Config{}, nil)
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func(i int) {
			_, err := e3.p.Create(ctx, fmt.Sprintf("rotator-burst-%d", i), nil)
			errs <- err
		}(i)
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("burst create: %v", e3.track(err))
		}
	}
	if got := len(e3.srv.Keys()); got != 5 {
		t.Fatalf("%d keys, want 5", got)
	}
}

func TestServerErrors(t *testing.T) {
	e := newEnv(t, emailittest.Config{}, nil)
	e.srv.FailNext(emailittest.OpGet, 2, http.StatusServiceUnavailable)
	k, err := e.p.Create(ctx, "rotator-5xx", nil)
	if err != nil {
		t.Fatal(e.track(err))
	}
	if _, err := e.p.Get(ctx, k.ID); err != nil {
		t.Fatalf("get is idempotent and retried through 503s: %v", e.track(err))
	}
	e.srv.FailNext(emailittest.OpCreate, 1, http.StatusInternalServerError)
	_, err = e.p.Create(ctx, "rotator-5xx-2", nil)
	reasonOf(t, e.track(err), providers.ReasonServer)
	if got := e.srv.Requests()[emailittest.OpCreate]; got != 2 {
		t.Fatalf("create sent %d times; a 500 on create must not be retried", got)
	}
	e.srv.FailNext(emailittest.OpDelete, 10, http.StatusBadGateway)
	reasonOf(t, e.track(e.p.Revoke(ctx, k.ID)), providers.ReasonServer)
}

func TestManagementKeyRejected(t *testing.T) {
	e := newEnv(t, emailittest.Config{}, func(c *Config) {
		c.APIKey = config.Secret("secret_" + strings.Repeat("Q", 32))
	})
	_, err := e.p.Create(ctx, "rotator-x", nil)
	pe := reasonOf(t, e.track(err), providers.ReasonAuth)
	if pe.Status != 401 || !strings.Contains(pe.Error(), "Invalid API key") {
		t.Fatalf("error %v", pe)
	}
	_, err = e.p.List(ctx, "")
	reasonOf(t, e.track(err), providers.ReasonAuth)
	if strings.Contains(err.Error(), strings.Repeat("Q", 32)) {
		t.Fatal("the management key is in the error")
	}

	// A sending key configured as the management key is refused (403).
	e2 := newEnv(t, emailittest.Config{}, nil)
	sending := e2.srv.CreateKey("mgmt-sending", "sending")
	e2.p.auth = httpapi.AuthHeader(httpapi.Bearer(sending.Key))
	_, err = e2.p.List(ctx, "")
	reasonOf(t, e2.track(err), providers.ReasonAuth)
}

// A service that echoes credentials back must not get them into errors
// or logs.
func TestEchoedSecretsAreScrubbed(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"Unauthorized","message":"key %s is not valid; header was %q"}`,
			strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), r.Header.Get("Authorization"))
	}))
	defer hs.Close()
	const mgmt = "0ldStyleKeyWithoutAnyPrefix0123456789"
	const tested = "anotherOldStyleKey9876543210abcdef"
	p, err := New(Config{Config: httpapi.Config{BaseURL: hs.URL}, APIKey: mgmt}, providers.Deps{Deps: backend.Deps{Name: "emailit", Logger: zap.NewNop(), UserAgent: "rotator/test"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := p.Create(ctx, "x", nil)
	_, err2 := p.Test(ctx, "1", providers.Credential{"api_key": tested})
	for _, err := range []error{err1, err2} {
		reasonOf(t, err, providers.ReasonAuth)
		if strings.Contains(err.Error(), mgmt) || strings.Contains(err.Error(), tested) {
			t.Fatalf("a secret is in %q", err)
		}
	}
}

func TestValidateParams(t *testing.T) {
	p := &Provider{}
	for _, ok := range []map[string]string{
		nil, {"scope": "full"}, {"scope": "sending"}, {"scope": "events"}, {"scope": "sending", "sending_domain_id": "1234567890"},
		{"scope": "sending", "sending_domain_id": "dom_7Hq2"}, {"scope": "future_scope"},
	} {
		if err := p.ValidateParams(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, c := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"role": "x"}, `unknown param "role"`},
		{map[string]string{"scope": ""}, "scope: must not be empty"},
		{map[string]string{"scope": "Full Access"}, `scope: "Full Access"`},
		{map[string]string{"scope": "full_access"}, `the API's scope is "full"`},
		{map[string]string{"sending_domain_id": "5"}, "sending_domain_id: only applies to sending keys"},
		{map[string]string{"scope": "sending", "sending_domain_id": "007"}, `sending_domain_id: "007"`},
		{map[string]string{"scope": "sending", "sending_domain_id": "dom x"}, `sending_domain_id: "dom x"`},
		{map[string]string{"scope": "sending", "sending_domain_id": ""}, `sending_domain_id: ""`},
	} {
		err := p.ValidateParams(c.params)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.params, err, c.want)
		}
	}
	if p.Type() != "emailit" {
		t.Fatal(p.Type())
	}
}

func TestNextPath(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.emailit.com/v2/api-keys?page=2&limit=10": "/v2/api-keys?page=2&limit=10",
		"/v2/api-keys?page=3&limit=100":                       "/v2/api-keys?page=3&limit=100",
		"?page=2&limit=100":                                   "/v2/api-keys?page=2&limit=100",
		"https://evil.example/v2/api-keys?page=2":             "/v2/api-keys?page=2",
	} {
		if got, err := nextPath(in); err != nil || got != want {
			t.Errorf("nextPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// At the default rate the client stays under the workspace's sliding
// window: no call draws a 429.
// TestDefaultRateSettlesUnderTheWindow: the default rate is Emailit's
// documented 2/s; the token bucket's first burst may draw a 429 from the
// sliding window, after which the client (burst 1, rate lowered 2 % per
// 429) draws none.
func TestDefaultRateSettlesUnderTheWindow(t *testing.T) {
	e := newEnv(t, emailittest.Config{}, nil)
	start := e.clock.Now()
	for i := 0; i < 20; i++ {
		if _, err := e.p.List(ctx, "x"); err != nil {
			t.Fatal(e.track(err))
		}
	}
	early := e.srv.RateLimited()
	if early > 2 {
		t.Fatalf("%d of the first 20 calls drew a 429 at the default rate, want at most 2", early)
	}
	for i := 0; i < 20; i++ {
		if _, err := e.p.List(ctx, "x"); err != nil {
			t.Fatal(e.track(err))
		}
	}
	if late := e.srv.RateLimited() - early; late != 0 {
		t.Fatalf("%d of the next 20 calls drew a 429: the client did not settle under the window", late)
	}
	if took := e.clock.Since(start); took < 19*time.Second {
		t.Fatalf("40 calls took %v of fake time; the client exceeds 2/s", took)
	}
}
