package vault_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
)

func TestCheck(t *testing.T) {
	f := setup(t)
	ctx := t.Context()

	t.Run("least-privilege policy passes", func(t *testing.T) {
		for _, method := range []string{"token", "approle", "kubernetes"} {
			s := newSink(t, f, f.authYAML(method), sinks.Deps{})
			bind(t, s, "mail/a")
			bind(t, s, "mail/b")
			if err := s.Check(ctx); err != nil {
				t.Fatalf("%s: %v", method, err)
			}
		}
	})

	t.Run("missing capabilities are named with the path", func(t *testing.T) {
		if err := f.dev.root.Sys().PutPolicyWithContext(ctx, "narrow", `
path "secret/data/ok/*"     { capabilities = ["create", "read", "update"] }
path "secret/metadata/ok/*" { capabilities = ["patch"] }
path "secret/data/ro/*"     { capabilities = ["read"] }
`); err != nil {
			t.Fatalf("PutPolicyWithContext: %v", err)
		}
		tok, err := f.dev.root.Auth().Token().CreateWithContext(ctx, &apiNarrowToken)
		if err != nil {
			t.Fatalf("f.dev.root.Auth().Token().CreateWithContext: %v", err)
		}
		s := newSink(t, f, "token: "+tok.Auth.ClientToken, sinks.Deps{})
		bind(t, s, "ok/x")
		_, err = s.Bind(section(t, "keys[2].sinks[0]", "{sink: vault, path: ro/y}"))
		if err != nil {
			t.Fatalf("s.Bind: %v", err)
		}
		err = s.Check(ctx)
		if err == nil {
			t.Fatalf("s.Check: got no error, want one")
		}
		msg := err.Error()
		if !strings.Contains(msg, "vault secret/ro/y (keys[2].sinks[0]): the token lacks the create, update capability on secret/data/ro/y (has: read)") {
			t.Fatalf("got %q, want it to contain %q", msg, "vault secret/ro/y (keys[2].sinks[0]): the token lacks the create, update capability on secret/data/ro/y (has: read)")
		}
		if !strings.Contains(msg, "vault secret/ro/y (keys[2].sinks[0]): the token lacks the patch capability on secret/metadata/ro/y (has: deny)") {
			t.Fatalf("got %q, want it to contain %q", msg, "vault secret/ro/y (keys[2].sinks[0]): the token lacks the patch capability on secret/metadata/ro/y (has: deny)")
		}
		if strings.Contains(msg, "ok/x") {
			t.Fatalf("got %q, want it not to contain %q", msg, "ok/x")
		}
		sinktest.AssertNoSecret(t, msg, tok.Auth.ClientToken)
	})

	t.Run("wrong kv_version", func(t *testing.T) {
		s := newSink(t, f, "kv_version: 1, "+f.authYAML("token"), sinks.Deps{})
		bind(t, s, "x")
		if err := s.Check(ctx); err == nil || !strings.Contains(err.Error(), "mount secret/ is KV version 2 but kv_version is 1") {
			t.Fatalf("s.Check(ctx): got error %v, want one containing %q", err, "mount secret/ is KV version 2 but kv_version is 1")
		}
		s = newSink(t, f, "mount: kv1, "+f.authYAML("token"), sinks.Deps{})
		bind(t, s, "x")
		if err := s.Check(ctx); err == nil || !strings.Contains(err.Error(), "mount kv1/ is KV version 1 but kv_version is 2") {
			t.Fatalf("s.Check(ctx): got error %v, want one containing %q", err, "mount kv1/ is KV version 1 but kv_version is 2")
		}
	})

	t.Run("bad token", func(t *testing.T) {
		s := newSink(t, f, "token: hvs.not-a-real-token-0123456789", sinks.Deps{})
		err := s.Check(ctx)
		if err == nil || !strings.Contains(err.Error(), "vault token login: look up token: GET auth/token/lookup-self: 403: permission denied") {
			t.Fatalf("s.Check: got error %v, want one containing %q", err, "vault token login: look up token: GET auth/token/lookup-self: 403: permission denied")
		}
		sinktest.AssertNoSecret(t, err.Error(), "hvs.not-a-real-token-0123456789")
	})

	t.Run("bad secret_id", func(t *testing.T) {
		s := newSink(t, f, "approle: {role_id: "+f.roleID+", secret_id: wrong-secret-id-0123456789}", sinks.Deps{})
		err := s.Check(ctx)
		if err == nil || !strings.Contains(err.Error(), "vault approle login: PUT auth/approle/login: 500: invalid secret id") {
			t.Fatalf("s.Check: got error %v, want one containing %q", err, "vault approle login: PUT auth/approle/login: 500: invalid secret id")
		}
		sinktest.AssertNoSecret(t, err.Error(), "wrong-secret-id-0123456789", f.secretID)
		sinktest.AssertLogsNoSecret(t, s.logs, "wrong-secret-id-0123456789")
	})

	t.Run("bad service account token", func(t *testing.T) {
		jwt := filepath.Join(t.TempDir(), "token")
		forged := f.dev.KubernetesJWT[:strings.LastIndex(f.dev.KubernetesJWT, ".")] + ".AAAA"
		if err := os.WriteFile(jwt, []byte(forged), 0o600); err != nil {
			t.Fatalf("os.WriteFile(jwt, []byte(forged), 0o600): %v", err)
		}
		s := newSink(t, f, "kubernetes: {role: rotator, service_account_token_path: "+jwt+"}", sinks.Deps{})
		err := s.Check(ctx)
		if err == nil || !strings.Contains(err.Error(), "vault kubernetes login: PUT auth/kubernetes/login: 403: permission denied") {
			t.Fatalf("s.Check: got error %v, want one containing %q", err, "vault kubernetes login: PUT auth/kubernetes/login: 403: permission denied")
		}
		sinktest.AssertNoSecret(t, err.Error(), forged, f.dev.KubernetesJWT)
	})

	t.Run("unreachable", func(t *testing.T) {
		s := newSink(t, f, f.authYAML("token"), sinks.Deps{})
		s.proxy.setDown(true)
		err := s.Check(ctx)
		if err == nil || !strings.Contains(err.Error(), "503: Vault is sealed") {
			t.Fatalf("s.Check: got error %v, want one containing %q", err, "503: Vault is sealed")
		}
		sinktest.AssertNoSecret(t, err.Error(), f.token)
	})
}
