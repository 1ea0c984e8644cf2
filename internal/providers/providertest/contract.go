package providertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
)

// Harness connects the contract suite to one provider and the test server
// behind it.
type Harness struct {
	// NewProvider returns a provider talking to a fresh test server (or at
	// least one whose keys do not carry the suite's names yet).
	NewProvider func(t *testing.T) providers.Provider
	// Params are valid key params for Create (smtpd: {"role": "send_only"}).
	Params map[string]string
	// Valid reports whether the server accepts the credential right now.
	Valid func(providers.Credential) bool
	// UnknownID is a well-formed id that no key has; default
	// "00000000-0000-4000-8000-000000000000".
	UnknownID string
	// FailNext makes the test server fail the next n requests of op ("" =
	// any) with status; required. The suite uses op "" only.
	FailNext func(op string, n, status int)
	// Secrets lists every secret the test server has issued (and the
	// management credential); required. No error may contain any of them.
	Secrets func() []string
	// Requests, when set, returns how many requests the test server has
	// received so far; the suite then checks that Verify is one round trip.
	Requests func() int
}

// Run runs the provider contract against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.FailNext == nil || h.Secrets == nil {
		t.Fatal("providertest: Harness.FailNext and Secrets are required")
	}
	if h.UnknownID == "" {
		h.UnknownID = "00000000-0000-4000-8000-000000000000"
	}
	ctx := context.Background()
	var errs []error
	noSecret := func(t *testing.T, err error) {
		t.Helper()
		if err == nil {
			return
		}
		errs = append(errs, err)
	}

	t.Run("ValidateParams", func(t *testing.T) {
		p := h.NewProvider(t)
		if err := p.ValidateParams(h.Params); err != nil {
			t.Fatalf("p.ValidateParams(h.Params): %v", err)
		}
		err := p.ValidateParams(withParam(h.Params, "no_such_param", "x"))
		if err == nil {
			t.Fatalf("p.ValidateParams: got no error, want one")
		}
		if got := err.Error(); !strings.Contains(got, "no_such_param") {
			t.Fatalf("the error names the param: got %q, want it to contain %q", got, "no_such_param")
		}
		if got := p.Type(); got == "" {
			t.Fatalf("p.Type() = %q, want non-empty", got)
		}
	})

	t.Run("lifecycle", func(t *testing.T) {
		p := h.NewProvider(t)
		name := uniqueName("contract-life-")
		key, err := p.Create(ctx, name, h.Params)
		if err != nil {
			t.Fatalf("p.Create: %v", err)
		}
		if key.ID == "" {
			t.Fatalf("key.ID = %q, want non-empty", key.ID)
		}
		if key.Name != name {
			t.Fatalf("key.Name = %q, want %q", key.Name, name)
		}
		if !key.Active {
			t.Fatalf("key.Active: got false, want true")
		}
		if got := p.CredentialFields(); len(got) == 0 {
			t.Fatalf("p.CredentialFields() = %+v, want non-empty", got)
		}
		if want := len(p.CredentialFields()); len(key.Credential) != want {
			t.Fatalf("the credential has exactly CredentialFields: len(key.Credential) = %d, want %d: %+v", len(key.Credential), want, key.Credential)
		}
		for _, f := range p.CredentialFields() {
			if key.Credential[f] == "" {
				t.Fatalf("credential field %q: got %q, want non-empty", f, key.Credential[f])
			}
		}
		if !h.Valid(key.Credential) {
			t.Fatalf("a new key's credential is accepted: got false, want true")
		}
		if got, want := fmt.Sprint(key.Credential), firstValue(key.Credential); strings.Contains(got, want) {
			t.Fatalf("Credential prints redacted: got %q, want it not to contain %q", got, want)
		}

		got, err := p.Get(ctx, key.ID)
		if err != nil {
			t.Fatalf("p.Get: %v", err)
		}
		if got.ID != key.ID {
			t.Fatalf("got.ID = %q, want %q", got.ID, key.ID)
		}
		if got.Name != name {
			t.Fatalf("got.Name = %q, want %q", got.Name, name)
		}
		if !got.Active {
			t.Fatalf("got.Active: got false, want true")
		}

		other, err := p.Create(ctx, uniqueName("contract-other-"), h.Params)
		if err != nil {
			t.Fatalf("p.Create: %v", err)
		}
		list, err := p.List(ctx, "contract-life-")
		if err != nil {
			t.Fatalf("p.List: %v", err)
		}
		if got, want := ids(list), []string{key.ID}; !reflect.DeepEqual(want, got) {
			t.Fatalf("List filters by name prefix: got %+v, want %+v", got, want)
		}
		all, err := p.List(ctx, "")
		if err != nil {
			t.Fatalf("p.List: %v", err)
		}
		for _, id := range []string{key.ID, other.ID} {
			if !slices.Contains(ids(all), id) {
				t.Fatalf("List(\"\") = %q, want it to include %q", ids(all), id)
			}
		}

		info, err := p.Test(ctx, key.ID, key.Credential)
		if err != nil {
			t.Fatalf("p.Test: %v", err)
		}
		if info.ID != key.ID {
			t.Fatalf("info.ID = %q, want %q", info.ID, key.ID)
		}
		if !info.Active {
			t.Fatalf("a tested key is active: got false, want true")
		}

		bad := providers.Credential{}
		for k, v := range key.Credential {
			bad[k] = v + "x"
		}
		_, err = p.Test(ctx, key.ID, bad)
		if err == nil {
			t.Fatalf("p.Test: got no error, want one")
		}
		if got := providers.ReasonOf(err); got != providers.ReasonAuth {
			t.Fatalf("a rejected credential is ReasonAuth: %v: got %q, want %q", err, got, providers.ReasonAuth)
		}
		noSecret(t, err)

		if err := p.Revoke(ctx, key.ID); err != nil {
			t.Fatalf("p.Revoke(ctx, key.ID): %v", err)
		}
		if h.Valid(key.Credential) {
			t.Fatalf("a revoked key's credential is refused: got true, want false")
		}
		if err := p.Revoke(ctx, key.ID); err != nil {
			t.Fatalf("revoke is idempotent: %v", err)
		}
		after, err := p.Get(ctx, key.ID)
		if err != nil {
			if !providers.IsNotFound(err) {
				t.Fatalf("after revoke, Get is not found or inactive: %v: got false, want true", err)
			}
		} else {
			if after.Active {
				t.Fatalf("after revoke, Get is not found or inactive: got true, want false")
			}
		}
		_, err = p.Test(ctx, key.ID, key.Credential)
		if err == nil {
			t.Fatalf("a revoked key fails Test: got no error, want one")
		}
		noSecret(t, err)
		if err := p.Revoke(ctx, other.ID); err != nil {
			t.Fatalf("p.Revoke(ctx, other.ID): %v", err)
		}
	})

	t.Run("unknown id", func(t *testing.T) {
		p := h.NewProvider(t)
		_, err := p.Get(ctx, h.UnknownID)
		if !providers.IsNotFound(err) {
			t.Fatalf("Get of an unknown id: %v: got false, want true", err)
		}
		noSecret(t, err)
		if err := p.Revoke(ctx, h.UnknownID); err != nil {
			t.Fatalf("revoking an unknown id counts as revoked: %v", err)
		}
	})

	t.Run("errors are classified", func(t *testing.T) {
		p := h.NewProvider(t)
		// one successful call first, so that a login is not the failing call
		_, err := p.List(ctx, "")
		if err != nil {
			t.Fatalf("p.List: %v", err)
		}
		h.FailNext("", 1, 400)
		_, err = p.Create(ctx, uniqueName("contract-fail-"), h.Params)
		if err == nil {
			t.Fatalf("p.Create: got no error, want one")
		}
		if got := providers.ReasonOf(err); got != providers.ReasonClient {
			t.Fatalf("%v: got %q, want %q", err, got, providers.ReasonClient)
		}
		noSecret(t, err)
		h.FailNext("", 1, 500)
		_, err = p.Create(ctx, uniqueName("contract-fail-"), h.Params)
		if err == nil {
			t.Fatalf("p.Create: got no error, want one")
		}
		if !providers.Retryable(err) {
			t.Fatalf("a 5xx is retryable: %v: got false, want true", err)
		}
		noSecret(t, err)
	})

	t.Run("cancelled context", func(t *testing.T) {
		p := h.NewProvider(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		calls := map[string]func() error{
			"create": func() error { _, err := p.Create(cctx, uniqueName("contract-cancel-"), h.Params); return err },
			"get":    func() error { _, err := p.Get(cctx, h.UnknownID); return err },
			"list":   func() error { _, err := p.List(cctx, ""); return err },
			"revoke": func() error { return p.Revoke(cctx, h.UnknownID) },
			"test": func() error {
				_, err := p.Test(cctx, h.UnknownID, providers.Credential{"key": "k", "secret": "s", "api_key": "k"})
				return err
			},
		}
		for op, call := range calls {
			done := make(chan error, 1)
			go func() { done <- call() }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatalf("%s: got no error, want one", op)
				}
				if !(errors.Is(err, context.Canceled) || providers.ReasonOf(err) == providers.ReasonTimeout) {
					t.Fatalf("%s: a cancelled call reports the cancellation: %v: got false, want true", op, err)
				}
				noSecret(t, err)
			case <-time.After(10 * time.Second):
				t.Fatalf("%s did not return after its context was cancelled", op)
			}
		}
	})

	// verify runs for providers that implement the optional
	// providers.Verifier (not skipped otherwise: it does not apply).
	_, verifies := h.NewProvider(t).(providers.Verifier)
	verify := func(t *testing.T) {
		p := h.NewProvider(t)
		v := p.(providers.Verifier)
		key, err := p.Create(ctx, uniqueName("contract-verify-"), h.Params)
		if err != nil {
			t.Fatalf("p.Create: %v", err)
		}
		var before int
		if h.Requests != nil {
			before = h.Requests()
		}
		if err := v.Verify(ctx, key.ID, key.Credential); err != nil {
			t.Fatalf("a fresh key verifies: %v", err)
		}
		if h.Requests != nil {
			if got := h.Requests() - before; got != 1 {
				t.Fatalf("Verify is one round trip: got %v, want %v", got, 1)
			}
		}
		// The same key again: Verify holds no state that would hide a
		// change (smtpd: no cached token).
		if err := v.Verify(ctx, key.ID, key.Credential); err != nil {
			t.Fatalf("a key verifies twice: %v", err)
		}

		noCredential := func(t *testing.T, err error, creds ...providers.Credential) {
			t.Helper()
			noSecret(t, err)
			for _, c := range creds {
				for f, val := range c {
					if got := err.Error(); strings.Contains(got, val) {
						t.Fatalf("the error carries credential field %s: got %q, want it not to contain %q", f, got, val)
					}
				}
			}
		}
		// A wrong secret: smtpd's right key with a wrong secret, Emailit's
		// key with a character added.
		bad := providers.Credential{}
		for k, val := range key.Credential {
			bad[k] = val
		}
		if sec, has := bad["secret"]; has {
			bad["secret"] = sec + "x"
		} else {
			for k, val := range bad {
				bad[k] = val + "x"
			}
		}
		err = v.Verify(ctx, key.ID, bad)
		if err == nil {
			t.Fatalf("a wrong secret fails Verify: got no error, want one")
		}
		if got := providers.ReasonOf(err); got != providers.ReasonAuth {
			t.Fatalf("a wrong secret is ReasonAuth: %v: got %q, want %q", err, got, providers.ReasonAuth)
		}
		noCredential(t, err, key.Credential, bad)

		if err := p.Revoke(ctx, key.ID); err != nil {
			t.Fatalf("p.Revoke(ctx, key.ID): %v", err)
		}
		err = v.Verify(ctx, key.ID, key.Credential)
		if err == nil {
			t.Fatalf("a revoked key fails Verify: got no error, want one")
		}
		if got := providers.ReasonOf(err); got != providers.ReasonAuth {
			t.Fatalf("a revoked key is ReasonAuth: %v: got %q, want %q", err, got, providers.ReasonAuth)
		}
		noCredential(t, err, key.Credential)

		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err = v.Verify(cctx, key.ID, key.Credential)
		if err == nil {
			t.Fatalf("v.Verify: got no error, want one")
		}
		if !(errors.Is(err, context.Canceled) || providers.ReasonOf(err) == providers.ReasonTimeout) {
			t.Fatalf("a cancelled Verify reports the cancellation: %v: got false, want true", err)
		}
		noCredential(t, err, key.Credential)
	}
	if verifies {
		t.Run("verify", verify)
	}

	t.Run("no secret in any error", func(t *testing.T) {
		secrets := h.Secrets()
		for _, err := range errs {
			for _, s := range secrets {
				if len(s) >= 4 && strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains an issued secret", err)
				}
			}
		}
	})
}

func withParam(params map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for pk, pv := range params {
		out[pk] = pv
	}
	return out
}

func ids(list []providers.KeyInfo) []string {
	out := make([]string, 0, len(list))
	for _, k := range list {
		out = append(out, k.ID)
	}
	return out
}

func firstValue(c providers.Credential) string {
	for _, v := range c {
		return v
	}
	return "\x00"
}

func uniqueName(prefix string) string {
	return prefix + time.Now().UTC().Format("20060102T150405") + "-" + contractRandomHex(4)
}

func contractRandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
