package providertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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
	c := &contract{h: h, ctx: context.Background()}

	t.Run("ValidateParams", c.validateParams)
	t.Run("lifecycle", c.lifecycle)
	t.Run("unknown id", c.unknownID)
	t.Run("errors are classified", c.errorsAreClassified)
	t.Run("cancelled context", c.cancelledContext)

	// verify runs for providers that implement the optional
	// providers.Verifier (not skipped otherwise: it does not apply).
	_, verifies := h.NewProvider(t).(providers.Verifier)
	if verifies {
		t.Run("verify", c.verify)
	}

	t.Run("no secret in any error", c.noSecretInAnyError)
}

// contract is one run of the contract: the harness and the errors the
// cases saw, which the last case checks for secrets.
type contract struct {
	h    Harness
	ctx  context.Context
	errs []error
}

// noSecret keeps err (if any) for the "no secret in any error" case.
func (c *contract) noSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	c.errs = append(c.errs, err)
}

func (c *contract) validateParams(t *testing.T) {
	h := c.h
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
}

func (c *contract) unknownID(t *testing.T) {
	ctx, h := c.ctx, c.h
	p := h.NewProvider(t)
	_, err := p.Get(ctx, h.UnknownID)
	if !providers.IsNotFound(err) {
		t.Fatalf("Get of an unknown id: %v: got false, want true", err)
	}
	c.noSecret(t, err)
	if err := p.Revoke(ctx, h.UnknownID); err != nil {
		t.Fatalf("revoking an unknown id counts as revoked: %v", err)
	}
}

func (c *contract) errorsAreClassified(t *testing.T) {
	ctx, h := c.ctx, c.h
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
	c.noSecret(t, err)
	h.FailNext("", 1, 500)
	_, err = p.Create(ctx, uniqueName("contract-fail-"), h.Params)
	if err == nil {
		t.Fatalf("p.Create: got no error, want one")
	}
	if !providers.Retryable(err) {
		t.Fatalf("a 5xx is retryable: %v: got false, want true", err)
	}
	c.noSecret(t, err)
}

func (c *contract) cancelledContext(t *testing.T) {
	ctx, h := c.ctx, c.h
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
			c.noSecret(t, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not return after its context was cancelled", op)
		}
	}
}

func (c *contract) noSecretInAnyError(t *testing.T) {
	secrets := c.h.Secrets()
	for _, err := range c.errs {
		for _, s := range secrets {
			if len(s) >= 4 && strings.Contains(err.Error(), s) {
				t.Errorf("error %q contains an issued secret", err)
			}
		}
	}
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
