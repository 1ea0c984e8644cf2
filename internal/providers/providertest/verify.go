package providertest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/providers"
)

// verify checks the optional providers.Verifier: a fresh key verifies in
// one round trip, a wrong secret, a revoked key and a cancelled context
// fail, and no error carries the credential.
func (c *contract) verify(t *testing.T) {
	ctx, h := c.ctx, c.h
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
	c.verifyRefuses(t, p, key)
}

// verifyRefuses checks that Verify refuses key with a wrong secret, once
// revoked, and with a cancelled context.
func (c *contract) verifyRefuses(t *testing.T, p providers.Provider, key providers.Key) {
	ctx := c.ctx
	v := p.(providers.Verifier)
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
	err := v.Verify(ctx, key.ID, bad)
	if err == nil {
		t.Fatalf("a wrong secret fails Verify: got no error, want one")
	}
	if got := providers.ReasonOf(err); got != providers.ReasonAuth {
		t.Fatalf("a wrong secret is ReasonAuth: %v: got %q, want %q", err, got, providers.ReasonAuth)
	}
	c.noCredential(t, err, key.Credential, bad)

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
	c.noCredential(t, err, key.Credential)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = v.Verify(cctx, key.ID, key.Credential)
	if err == nil {
		t.Fatalf("v.Verify: got no error, want one")
	}
	if !(errors.Is(err, context.Canceled) || providers.ReasonOf(err) == providers.ReasonTimeout) {
		t.Fatalf("a cancelled Verify reports the cancellation: %v: got false, want true", err)
	}
	c.noCredential(t, err, key.Credential)
}

// noCredential keeps err for the "no secret in any error" case and checks
// that it carries no field of creds.
func (c *contract) noCredential(t *testing.T, err error, creds ...providers.Credential) {
	t.Helper()
	c.noSecret(t, err)
	for _, cr := range creds {
		for f, val := range cr {
			if got := err.Error(); strings.Contains(got, val) {
				t.Fatalf("the error carries credential field %s: got %q, want it not to contain %q", f, got, val)
			}
		}
	}
}
