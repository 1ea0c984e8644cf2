package vault_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
)

var apiNarrowToken = apiTokenRequestWith("narrow")

func TestAppRoleLogsInAgainWhenTheTokenIsRevoked(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	s := newSink(t, f, f.authYAML("approle"), sinks.Deps{})
	tg := bind(t, s, uniquePath("reauth"))
	_, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if got := s.logs.FilterMessage("vault login").Len(); got != 1 {
		t.Fatalf("s.logs.FilterMessage(\"vault login\").Len() = %v, want %v", got, 1)
	}

	// Every token AppRole issued is revoked: what the sink sees when its
	// token expires.
	if err := f.dev.root.Sys().RevokePrefixWithContext(ctx, "auth/approle/login"); err != nil {
		t.Fatalf("f.dev.root.Sys().RevokePrefixWithContext(ctx, \"auth/approle/login\"): %v", err)
	}

	_, err = tg.Write(ctx, write("k2", sinks.Secret{"key": "sk_2"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if got := s.logs.FilterMessage("vault token no longer valid, logging in again").Len(); got != 1 {
		t.Fatalf("got %v, want %v", got, 1)
	}
	if got := s.logs.FilterMessage("vault login").Len(); got != 2 {
		t.Fatalf("s.logs.FilterMessage(\"vault login\").Len() = %v, want %v", got, 2)
	}
	got, err := tg.Read(ctx)
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if want := (sinks.Secret{"key": "sk_2"}); !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}
	sinktest.AssertLogsNoSecret(t, s.logs, append(f.secrets(), "sk_1", "sk_2")...)
}

func TestKubernetesLogsInAgainWhenTheTokenIsRevoked(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	s := newSink(t, f, f.authYAML("kubernetes"), sinks.Deps{})
	tg := bind(t, s, uniquePath("reauth-k8s"))
	_, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if err := f.dev.root.Sys().RevokePrefixWithContext(ctx, "auth/kubernetes/login"); err != nil {
		t.Fatalf("f.dev.root.Sys().RevokePrefixWithContext(ctx, \"auth/kubernetes/login\"): %v", err)
	}
	_, err = tg.Write(ctx, write("k2", sinks.Secret{"key": "sk_2"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if got := s.logs.FilterMessage("vault login").Len(); got != 2 {
		t.Fatalf("s.logs.FilterMessage(\"vault login\").Len() = %v, want %v", got, 2)
	}
}

func TestTokenFileIsReadAgainWhenTheTokenIsRevoked(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	file := filepath.Join(t.TempDir(), "token")
	first, err := f.dev.root.Auth().Token().CreateWithContext(ctx, &apiTokenRequest)
	if err != nil {
		t.Fatalf("f.dev.root.Auth().Token().CreateWithContext: %v", err)
	}
	if err := os.WriteFile(file, []byte(first.Auth.ClientToken+"\n"), 0o600); err != nil {
		t.Fatalf("os.WriteFile(file, []byte(first.Auth.ClientToken+\"\\n\"), 0o600): %v", err)
	}
	s := newSink(t, f, "token_file: "+file, sinks.Deps{})
	tg := bind(t, s, uniquePath("token-file"))
	_, err = tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}

	// Vault Agent (say) renews the token file; the old token is revoked.
	second, err := f.dev.root.Auth().Token().CreateWithContext(ctx, &apiTokenRequest)
	if err != nil {
		t.Fatalf("f.dev.root.Auth().Token().CreateWithContext: %v", err)
	}
	if err := os.WriteFile(file, []byte(second.Auth.ClientToken), 0o600); err != nil {
		t.Fatalf("os.WriteFile(file, []byte(second.Auth.ClientToken), 0o600): %v", err)
	}
	if err := f.dev.root.Auth().Token().RevokeTreeWithContext(ctx, first.Auth.ClientToken); err != nil {
		t.Fatalf("RevokeTreeWithContext: %v", err)
	}

	_, err = tg.Write(ctx, write("k2", sinks.Secret{"key": "sk_2"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}

	// A revoked token that nothing replaces is a clear error.
	if err := f.dev.root.Auth().Token().RevokeTreeWithContext(ctx, second.Auth.ClientToken); err != nil {
		t.Fatalf("RevokeTreeWithContext: %v", err)
	}
	_, err = tg.Write(ctx, write("k3", sinks.Secret{"key": "sk_3"}))
	if err == nil || !strings.Contains(err.Error(), "vault token login: look up token: GET auth/token/lookup-self: 403: permission denied") {
		t.Fatalf("tg.Write: got error %v, want one containing %q", err, "vault token login: look up token: GET auth/token/lookup-self: 403: permission denied")
	}
	sinktest.AssertNoSecret(t, err.Error(), first.Auth.ClientToken, second.Auth.ClientToken, "sk_3")
	sinktest.AssertLogsNoSecret(t, s.logs, first.Auth.ClientToken, second.Auth.ClientToken, "sk_1", "sk_2", "sk_3")
}

func TestPolicyDenialIsNotMistakenForExpiry(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	// The rotator policy grants nothing under this mount.
	s2 := newSink(t, f, "mount: not-granted, "+f.authYAML("approle"), sinks.Deps{})
	tg2 := bind(t, s2, "x")
	_, err := tg2.Write(ctx, write("k1", sinks.Secret{"key": "sk_denied"}))
	if err == nil || !strings.Contains(err.Error(), "403: permission denied") {
		t.Fatalf("tg2.Write: got error %v, want one containing %q", err, "403: permission denied")
	}
	if got := s2.logs.FilterMessage("vault login").Len(); got != 1 {
		t.Fatalf("a policy denial triggered a new login: got %v, want %v", got, 1)
	}
	sinktest.AssertNoSecret(t, err.Error(), "sk_denied")
}

func TestEnvironmentCannotWeakenTheClient(t *testing.T) {
	f := setup(t)
	t.Setenv("VAULT_TOKEN", f.dev.RootToken)
	t.Setenv("VAULT_NAMESPACE", "elsewhere")
	s := newSink(t, f, f.authYAML("token"), sinks.Deps{})
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("s.Check(t.Context()): %v", err)
	}
	// The sink used its own token (policy rotator), not root's: it cannot
	// write outside the policy.
	_, err := bind(t, s, "x").Write(t.Context(), write("k", sinks.Secret{"key": "v"}))
	if err != nil {
		t.Fatalf("bind(t, s, \"x\").Write: %v", err)
	}
	if got, want := s.proxy.namespaces(), map[string]bool{"": true}; !reflect.DeepEqual(want, got) {
		t.Fatalf("VAULT_NAMESPACE was used: got %+v, want %+v", got, want)
	}
	s2 := newSink(t, f, "mount: sys, kv_version: 1, "+f.authYAML("token"), sinks.Deps{})
	_, err = bind(t, s2, "policy/evil").Write(t.Context(), write("k", sinks.Secret{"policy": "path \"*\" {capabilities=[\"sudo\"]}"}))
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("bind(t, s2, \"policy/evil\").Write: got error %v, want one containing %q", err, "permission denied")
	}
}

func TestCancelledWhileLoggingIn(t *testing.T) {
	f := setup(t)
	s := newSink(t, f, f.authYAML("approle"), sinks.Deps{})
	tg := bind(t, s, uniquePath("cancel"))
	s.proxy.setStall(true)
	defer s.proxy.setStall(false)

	// A logs in and hangs; B waits behind A's login and gives up when its
	// own context is cancelled, while A is still stuck.
	ctxA, cancelA := context.WithCancel(t.Context())
	defer cancelA()
	doneA := make(chan error, 1)
	go func() { _, err := tg.Write(ctxA, write("a", sinks.Secret{"key": "va"})); doneA <- err }()
	for !s.proxy.saw("PUT /v1/auth/approle/login") {
		time.Sleep(5 * time.Millisecond)
	}
	ctxB, cancelB := context.WithCancel(t.Context())
	doneB := make(chan error, 1)
	go func() { _, err := tg.Write(ctxB, write("b", sinks.Secret{"key": "vb"})); doneB <- err }()
	cancelB()
	requireCancelled(t, "waiting behind a login", doneB)
	cancelA()
	requireCancelled(t, "logging in", doneA)
}

func requireCancelled(t *testing.T, what string, done chan error) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: got false, want true", fmt.Sprint(err))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("a Write %s did not return after its context was cancelled", what)
	}
}
