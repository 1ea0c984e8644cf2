package providertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
		require.NoError(t, p.ValidateParams(h.Params))
		err := p.ValidateParams(withParam(h.Params, "no_such_param", "x"))
		require.Error(t, err)
		require.Contains(t, err.Error(), "no_such_param", "the error names the param")
		require.NotEmpty(t, p.Type())
	})

	t.Run("lifecycle", func(t *testing.T) {
		p := h.NewProvider(t)
		name := uniqueName("contract-life-")
		key, err := p.Create(ctx, name, h.Params)
		require.NoError(t, err)
		require.NotEmpty(t, key.ID)
		require.Equal(t, name, key.Name)
		require.True(t, key.Active)
		require.NotEmpty(t, p.CredentialFields())
		require.Len(t, key.Credential, len(p.CredentialFields()), "the credential has exactly CredentialFields")
		for _, f := range p.CredentialFields() {
			require.NotEmpty(t, key.Credential[f], "credential field %q", f)
		}
		require.True(t, h.Valid(key.Credential), "a new key's credential is accepted")
		require.NotContains(t, fmt.Sprint(key.Credential), firstValue(key.Credential), "Credential prints redacted")

		got, err := p.Get(ctx, key.ID)
		require.NoError(t, err)
		require.Equal(t, key.ID, got.ID)
		require.Equal(t, name, got.Name)
		require.True(t, got.Active)

		other, err := p.Create(ctx, uniqueName("contract-other-"), h.Params)
		require.NoError(t, err)
		list, err := p.List(ctx, "contract-life-")
		require.NoError(t, err)
		require.Equal(t, []string{key.ID}, ids(list), "List filters by name prefix")
		all, err := p.List(ctx, "")
		require.NoError(t, err)
		require.Subset(t, ids(all), []string{key.ID, other.ID})

		info, err := p.Test(ctx, key.ID, key.Credential)
		require.NoError(t, err)
		require.Equal(t, key.ID, info.ID)
		require.True(t, info.Active, "a tested key is active")

		bad := providers.Credential{}
		for k, v := range key.Credential {
			bad[k] = v + "x"
		}
		_, err = p.Test(ctx, key.ID, bad)
		require.Error(t, err)
		require.Equal(t, providers.ReasonAuth, providers.ReasonOf(err), "a rejected credential is ReasonAuth: %v", err)
		noSecret(t, err)

		require.NoError(t, p.Revoke(ctx, key.ID))
		require.False(t, h.Valid(key.Credential), "a revoked key's credential is refused")
		require.NoError(t, p.Revoke(ctx, key.ID), "revoke is idempotent")
		after, err := p.Get(ctx, key.ID)
		if err != nil {
			require.True(t, providers.IsNotFound(err), "after revoke, Get is not found or inactive: %v", err)
		} else {
			require.False(t, after.Active, "after revoke, Get is not found or inactive")
		}
		_, err = p.Test(ctx, key.ID, key.Credential)
		require.Error(t, err, "a revoked key fails Test")
		noSecret(t, err)
		require.NoError(t, p.Revoke(ctx, other.ID))
	})

	t.Run("unknown id", func(t *testing.T) {
		p := h.NewProvider(t)
		_, err := p.Get(ctx, h.UnknownID)
		require.True(t, providers.IsNotFound(err), "Get of an unknown id: %v", err)
		noSecret(t, err)
		require.NoError(t, p.Revoke(ctx, h.UnknownID), "revoking an unknown id counts as revoked")
	})

	t.Run("errors are classified", func(t *testing.T) {
		p := h.NewProvider(t)
		// one successful call first, so that a login is not the failing call
		_, err := p.List(ctx, "")
		require.NoError(t, err)
		h.FailNext("", 1, 400)
		_, err = p.Create(ctx, uniqueName("contract-fail-"), h.Params)
		require.Error(t, err)
		require.Equal(t, providers.ReasonClient, providers.ReasonOf(err), "%v", err)
		noSecret(t, err)
		h.FailNext("", 1, 500)
		_, err = p.Create(ctx, uniqueName("contract-fail-"), h.Params)
		require.Error(t, err)
		require.True(t, providers.Retryable(err), "a 5xx is retryable: %v", err)
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
				require.Error(t, err, op)
				require.True(t, errors.Is(err, context.Canceled) || providers.ReasonOf(err) == providers.ReasonTimeout,
					"%s: a cancelled call reports the cancellation: %v", op, err)
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
		require.NoError(t, err)
		var before int
		if h.Requests != nil {
			before = h.Requests()
		}
		require.NoError(t, v.Verify(ctx, key.ID, key.Credential), "a fresh key verifies")
		if h.Requests != nil {
			require.Equal(t, 1, h.Requests()-before, "Verify is one round trip")
		}
		// The same key again: Verify holds no state that would hide a
		// change (smtpd: no cached token).
		require.NoError(t, v.Verify(ctx, key.ID, key.Credential), "a key verifies twice")

		noCredential := func(t *testing.T, err error, creds ...providers.Credential) {
			t.Helper()
			noSecret(t, err)
			for _, c := range creds {
				for f, val := range c {
					require.NotContains(t, err.Error(), val, "the error carries credential field %s", f)
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
		require.Error(t, err, "a wrong secret fails Verify")
		require.Equal(t, providers.ReasonAuth, providers.ReasonOf(err), "a wrong secret is ReasonAuth: %v", err)
		noCredential(t, err, key.Credential, bad)

		require.NoError(t, p.Revoke(ctx, key.ID))
		err = v.Verify(ctx, key.ID, key.Credential)
		require.Error(t, err, "a revoked key fails Verify")
		require.Equal(t, providers.ReasonAuth, providers.ReasonOf(err), "a revoked key is ReasonAuth: %v", err)
		noCredential(t, err, key.Credential)

		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err = v.Verify(cctx, key.ID, key.Credential)
		require.Error(t, err)
		require.True(t, errors.Is(err, context.Canceled) || providers.ReasonOf(err) == providers.ReasonTimeout,
			"a cancelled Verify reports the cancellation: %v", err)
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
