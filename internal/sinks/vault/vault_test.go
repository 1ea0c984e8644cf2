package vault_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
	"github.com/rotator-dev/rotator/internal/sinks/vault"
)

// The api client's retries of a store that is down take milliseconds here.
func init() { vault.SetRetryWait(5 * time.Millisecond) }

// TestContract runs the shared sink contract against the real Vault, for
// each KV version and auth method.
func TestContract(t *testing.T) {
	f := setup(t)
	cases := []struct {
		name, mount, extra string
		v2                 bool
	}{
		{"kv2/token", "secret", f.authYAML("token"), true},
		{"kv1/token", "kv1", "mount: kv1, kv_version: 1, " + f.authYAML("token"), false},
		{"kv2/approle", "secret", f.authYAML("approle"), true},
		{"kv2/kubernetes", "secret", f.authYAML("kubernetes"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			type bound struct {
				sink *testSink
				path string
			}
			var mu sync.Mutex
			targets := map[sinks.Target]bound{}
			lookup := func(tg sinks.Target) bound {
				mu.Lock()
				defer mu.Unlock()
				return targets[tg]
			}
			h := sinktest.Harness{
				New: func(t *testing.T, deps sinks.Deps) sinks.Target {
					s := newSink(t, f, tc.extra, deps)
					path := uniquePath("contract")
					tg := bind(t, s, path)
					require.NoError(t, s.Check(t.Context()))
					mu.Lock()
					targets[tg] = bound{s, path}
					mu.Unlock()
					return tg
				},
				Down: func(t *testing.T, tg sinks.Target) func() {
					b := lookup(tg)
					b.sink.proxy.setDown(true)
					return func() { b.sink.proxy.setDown(false) }
				},
				Stall: func(t *testing.T, tg sinks.Target) func() {
					b := lookup(tg)
					b.sink.proxy.setStall(true)
					return func() { b.sink.proxy.setStall(false) }
				},
				Foreign: func(t *testing.T, tg sinks.Target, data sinks.Secret) {
					b := lookup(tg)
					m := map[string]any{}
					for k, v := range data {
						m[k] = v
					}
					var err error
					if tc.v2 {
						_, err = f.dev.root.KVv2("secret").Put(context.Background(), b.path, m)
					} else {
						_, err = f.dev.root.Logical().WriteWithContext(context.Background(), "kv1/"+b.path, m)
					}
					require.NoError(t, err)
				},
				Rebind: func(t *testing.T, tg sinks.Target, adopt bool, deps sinks.Deps) sinks.Target {
					b := lookup(tg)
					s := newSink(t, f, tc.extra, deps)
					nt, err := s.Bind(section(t, "keys[0].sinks[0]", fmt.Sprintf("{sink: vault, path: %s, adopt: %t}", b.path, adopt)))
					require.NoError(t, err)
					return nt
				},
				Secrets: f.secrets(),
			}
			if tc.v2 {
				h.Concurrent = func(t *testing.T, tg sinks.Target) {
					b := lookup(tg)
					b.sink.proxy.armRead(func() {
						_, err := f.dev.root.KVv2("secret").Put(context.Background(), b.path, map[string]any{"key": "written-by-someone-else"})
						require.NoError(t, err)
					})
				}
			}
			sinktest.Run(t, h)
		})
	}
}

func write(id string, data sinks.Secret) sinks.Write {
	return sinks.Write{
		RotationID: "rot-" + id,
		KeyID:      id,
		KeyName:    "rotator-smtpd-send-20261123T030000Z-" + id,
		RotatedAt:  time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC),
		Data:       data,
	}
}

func TestKV2VersionsCustomMetadataAndReadBackByVaultClient(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	s := newSink(t, f, f.authYAML("token"), sinks.Deps{})
	path := uniquePath("mail")
	tg := bind(t, s, path)

	// An operator's own custom_metadata survives (merge patch).
	_, err := f.dev.root.Logical().WriteWithContext(ctx, "secret/metadata/"+path, map[string]any{
		"custom_metadata": map[string]any{"owner": "team-mail"},
	})
	require.NoError(t, err)

	v1, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1", "key_id": "k1"}))
	require.NoError(t, err)
	require.Equal(t, "1", v1)
	again, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1", "key_id": "k1"}))
	require.NoError(t, err)
	require.Equal(t, "1", again, "an identical rewrite made a new version")
	v2, err := tg.Write(ctx, write("k2", sinks.Secret{"key": "sk_2", "key_id": "k2"}))
	require.NoError(t, err)
	require.Equal(t, "2", v2)

	// What the vault client itself reads.
	kv, err := f.dev.root.KVv2("secret").Get(ctx, path)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"key": "sk_2", "key_id": "k2"}, kv.Data)
	require.Equal(t, 2, kv.VersionMetadata.Version)

	meta, err := f.dev.root.KVv2("secret").GetMetadata(ctx, path)
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"owner":            "team-mail",
		"managed_by":       "rotator",
		"rotator_key_id":   "k2",
		"rotator_key_name": "rotator-smtpd-send-20261123T030000Z-k2",
		"rotated_at":       "2026-11-23T03:00:00Z",
	}, meta.CustomMetadata)
}

func TestKV2ConflictIsReportedNotOverwritten(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	s := newSink(t, f, f.authYAML("approle"), sinks.Deps{})
	path := uniquePath("conflict")
	tg := bind(t, s, path)
	_, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1"}))
	require.NoError(t, err)

	s.proxy.armRead(func() {
		_, err := f.dev.root.KVv2("secret").Put(context.Background(), path, map[string]any{"key": "operator"})
		require.NoError(t, err)
	})
	_, err = tg.Write(ctx, write("k2", sinks.Secret{"key": "sk_2_do_not_leak"}))
	require.ErrorIs(t, err, sinks.ErrConflict)
	require.ErrorContains(t, err, "write vault secret/"+path+": concurrent modification: the secret changed from version 1 to 2 since it was read; not overwritten")
	sinktest.AssertNoSecret(t, err.Error(), "sk_2_do_not_leak", "operator", "sk_1")

	kv, err := f.dev.root.KVv2("secret").Get(ctx, path)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"key": "operator"}, kv.Data)
	require.Equal(t, 2, kv.VersionMetadata.Version)

	// Vault itself refused the write: the sink sent cas=1.
	require.Contains(t, s.proxy.paths, "PUT /v1/secret/data/"+path)
}

func TestKV2DeletedSecretIsNotFoundThenRewritten(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	s := newSink(t, f, f.authYAML("token"), sinks.Deps{})
	path := uniquePath("deleted")
	tg := bind(t, s, path)
	_, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1"}))
	require.NoError(t, err)
	require.NoError(t, f.dev.root.KVv2("secret").Delete(ctx, path))

	_, err = tg.Read(ctx)
	require.ErrorIs(t, err, sinks.ErrNotFound)
	v, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1"}))
	require.NoError(t, err)
	require.Equal(t, "2", v)
	got, err := tg.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, sinks.Secret{"key": "sk_1"}, got)
	// One line per step: the engine logs the write with its version
	// ("sink written"); the sink does not repeat it.
	require.Zero(t, s.logs.FilterMessageSnippet("written").Len(), "the sink logged its write")
}

func TestKV1WriteIsPlainAndReadable(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	s := newSink(t, f, "mount: kv1, kv_version: 1, "+f.authYAML("token"), sinks.Deps{})
	path := uniquePath("v1")
	tg := bind(t, s, path)
	v, err := tg.Write(ctx, write("k1", sinks.Secret{"api_key": "em_1"}))
	require.NoError(t, err)
	require.Equal(t, "", v)
	sec, err := f.dev.root.KVv1("kv1").Get(ctx, path)
	require.NoError(t, err)
	// KV v1 has no metadata: the ownership marker is a field of the data.
	require.Equal(t, map[string]any{"api_key": "em_1", "_managed_by": "rotator"}, sec.Data)
	require.Equal(t, "vault kv1/"+path, tg.String())
	got, err := tg.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, sinks.Secret{"api_key": "em_1"}, got)
	require.Zero(t, s.logs.FilterMessageSnippet("written").Len(), "the sink logged its write (the engine does)")
}

func TestReadOfNonStringFieldNamesTheField(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	path := uniquePath("typed")
	_, err := f.dev.root.KVv2("secret").Put(ctx, path, map[string]any{"n": 42, "key": "sk_typed_secret"})
	require.NoError(t, err)
	s := newSink(t, f, f.authYAML("token"), sinks.Deps{})
	_, err = bind(t, s, path).Read(ctx)
	require.ErrorContains(t, err, `field "n" is not a string`)
}

func TestCheck(t *testing.T) {
	f := setup(t)
	ctx := t.Context()

	t.Run("least-privilege policy passes", func(t *testing.T) {
		for _, method := range []string{"token", "approle", "kubernetes"} {
			s := newSink(t, f, f.authYAML(method), sinks.Deps{})
			bind(t, s, "mail/a")
			bind(t, s, "mail/b")
			require.NoError(t, s.Check(ctx), method)
		}
	})

	t.Run("missing capabilities are named with the path", func(t *testing.T) {
		require.NoError(t, f.dev.root.Sys().PutPolicyWithContext(ctx, "narrow", `
path "secret/data/ok/*"     { capabilities = ["create", "read", "update"] }
path "secret/metadata/ok/*" { capabilities = ["patch"] }
path "secret/data/ro/*"     { capabilities = ["read"] }
`))
		tok, err := f.dev.root.Auth().Token().CreateWithContext(ctx, &apiNarrowToken)
		require.NoError(t, err)
		s := newSink(t, f, "token: "+tok.Auth.ClientToken, sinks.Deps{})
		bind(t, s, "ok/x")
		_, err = s.Bind(section(t, "keys[2].sinks[0]", "{sink: vault, path: ro/y}"))
		require.NoError(t, err)
		err = s.Check(ctx)
		require.Error(t, err)
		msg := err.Error()
		require.Contains(t, msg, "vault secret/ro/y (keys[2].sinks[0]): the token lacks the create, update capability on secret/data/ro/y (has: read)")
		require.Contains(t, msg, "vault secret/ro/y (keys[2].sinks[0]): the token lacks the patch capability on secret/metadata/ro/y (has: deny)")
		require.NotContains(t, msg, "ok/x")
		sinktest.AssertNoSecret(t, msg, tok.Auth.ClientToken)
	})

	t.Run("wrong kv_version", func(t *testing.T) {
		s := newSink(t, f, "kv_version: 1, "+f.authYAML("token"), sinks.Deps{})
		bind(t, s, "x")
		require.ErrorContains(t, s.Check(ctx), "mount secret/ is KV version 2 but kv_version is 1")
		s = newSink(t, f, "mount: kv1, "+f.authYAML("token"), sinks.Deps{})
		bind(t, s, "x")
		require.ErrorContains(t, s.Check(ctx), "mount kv1/ is KV version 1 but kv_version is 2")
	})

	t.Run("bad token", func(t *testing.T) {
		s := newSink(t, f, "token: hvs.not-a-real-token-0123456789", sinks.Deps{})
		err := s.Check(ctx)
		require.ErrorContains(t, err, "vault token login: look up token: GET auth/token/lookup-self: 403: permission denied")
		sinktest.AssertNoSecret(t, err.Error(), "hvs.not-a-real-token-0123456789")
	})

	t.Run("bad secret_id", func(t *testing.T) {
		s := newSink(t, f, "approle: {role_id: "+f.roleID+", secret_id: wrong-secret-id-0123456789}", sinks.Deps{})
		err := s.Check(ctx)
		require.ErrorContains(t, err, "vault approle login: PUT auth/approle/login: 500: invalid secret id")
		sinktest.AssertNoSecret(t, err.Error(), "wrong-secret-id-0123456789", f.secretID)
		sinktest.AssertLogsNoSecret(t, s.logs, "wrong-secret-id-0123456789")
	})

	t.Run("bad service account token", func(t *testing.T) {
		jwt := filepath.Join(t.TempDir(), "token")
		forged := f.dev.KubernetesJWT[:strings.LastIndex(f.dev.KubernetesJWT, ".")] + ".AAAA"
		require.NoError(t, os.WriteFile(jwt, []byte(forged), 0o600))
		s := newSink(t, f, "kubernetes: {role: rotator, service_account_token_path: "+jwt+"}", sinks.Deps{})
		err := s.Check(ctx)
		require.ErrorContains(t, err, "vault kubernetes login: PUT auth/kubernetes/login: 403: permission denied")
		sinktest.AssertNoSecret(t, err.Error(), forged, f.dev.KubernetesJWT)
	})

	t.Run("unreachable", func(t *testing.T) {
		s := newSink(t, f, f.authYAML("token"), sinks.Deps{})
		s.proxy.setDown(true)
		err := s.Check(ctx)
		require.ErrorContains(t, err, "503: Vault is sealed")
		sinktest.AssertNoSecret(t, err.Error(), f.token)
	})
}

var apiNarrowToken = apiTokenRequestWith("narrow")

func TestAppRoleLogsInAgainWhenTheTokenIsRevoked(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	s := newSink(t, f, f.authYAML("approle"), sinks.Deps{})
	tg := bind(t, s, uniquePath("reauth"))
	_, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1"}))
	require.NoError(t, err)
	require.Equal(t, 1, s.logs.FilterMessage("vault login").Len())

	// Every token AppRole issued is revoked: what the sink sees when its
	// token expires.
	require.NoError(t, f.dev.root.Sys().RevokePrefixWithContext(ctx, "auth/approle/login"))

	_, err = tg.Write(ctx, write("k2", sinks.Secret{"key": "sk_2"}))
	require.NoError(t, err)
	require.Equal(t, 1, s.logs.FilterMessage("vault token no longer valid, logging in again").Len())
	require.Equal(t, 2, s.logs.FilterMessage("vault login").Len())
	got, err := tg.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, sinks.Secret{"key": "sk_2"}, got)
	sinktest.AssertLogsNoSecret(t, s.logs, append(f.secrets(), "sk_1", "sk_2")...)
}

func TestKubernetesLogsInAgainWhenTheTokenIsRevoked(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	s := newSink(t, f, f.authYAML("kubernetes"), sinks.Deps{})
	tg := bind(t, s, uniquePath("reauth-k8s"))
	_, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1"}))
	require.NoError(t, err)
	require.NoError(t, f.dev.root.Sys().RevokePrefixWithContext(ctx, "auth/kubernetes/login"))
	_, err = tg.Write(ctx, write("k2", sinks.Secret{"key": "sk_2"}))
	require.NoError(t, err)
	require.Equal(t, 2, s.logs.FilterMessage("vault login").Len())
}

func TestTokenFileIsReadAgainWhenTheTokenIsRevoked(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	file := filepath.Join(t.TempDir(), "token")
	first, err := f.dev.root.Auth().Token().CreateWithContext(ctx, &apiTokenRequest)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, []byte(first.Auth.ClientToken+"\n"), 0o600))
	s := newSink(t, f, "token_file: "+file, sinks.Deps{})
	tg := bind(t, s, uniquePath("token-file"))
	_, err = tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1"}))
	require.NoError(t, err)

	// Vault Agent (say) renews the token file; the old token is revoked.
	second, err := f.dev.root.Auth().Token().CreateWithContext(ctx, &apiTokenRequest)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, []byte(second.Auth.ClientToken), 0o600))
	require.NoError(t, f.dev.root.Auth().Token().RevokeTreeWithContext(ctx, first.Auth.ClientToken))

	_, err = tg.Write(ctx, write("k2", sinks.Secret{"key": "sk_2"}))
	require.NoError(t, err)

	// A revoked token that nothing replaces is a clear error.
	require.NoError(t, f.dev.root.Auth().Token().RevokeTreeWithContext(ctx, second.Auth.ClientToken))
	_, err = tg.Write(ctx, write("k3", sinks.Secret{"key": "sk_3"}))
	require.ErrorContains(t, err, "vault token login: look up token: GET auth/token/lookup-self: 403: permission denied")
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
	require.ErrorContains(t, err, "403: permission denied")
	require.Equal(t, 1, s2.logs.FilterMessage("vault login").Len(), "a policy denial triggered a new login")
	sinktest.AssertNoSecret(t, err.Error(), "sk_denied")
}

func TestEnvironmentCannotWeakenTheClient(t *testing.T) {
	f := setup(t)
	t.Setenv("VAULT_TOKEN", f.dev.RootToken)
	t.Setenv("VAULT_NAMESPACE", "elsewhere")
	s := newSink(t, f, f.authYAML("token"), sinks.Deps{})
	require.NoError(t, s.Check(t.Context()))
	// The sink used its own token (policy rotator), not root's: it cannot
	// write outside the policy.
	_, err := bind(t, s, "x").Write(t.Context(), write("k", sinks.Secret{"key": "v"}))
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"": true}, s.proxy.namespaces(), "VAULT_NAMESPACE was used")
	s2 := newSink(t, f, "mount: sys, kv_version: 1, "+f.authYAML("token"), sinks.Deps{})
	_, err = bind(t, s2, "policy/evil").Write(t.Context(), write("k", sinks.Secret{"policy": "path \"*\" {capabilities=[\"sudo\"]}"}))
	require.ErrorContains(t, err, "permission denied")
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
		require.True(t, errors.Is(err, context.Canceled), fmt.Sprint(err))
	case <-time.After(30 * time.Second):
		t.Fatalf("a Write %s did not return after its context was cancelled", what)
	}
}

func TestWriteRejectsInvalidUTF8(t *testing.T) {
	f := setup(t)
	s := newSink(t, f, f.authYAML("token"), sinks.Deps{})
	_, err := bind(t, s, uniquePath("utf8")).Write(t.Context(), write("k", sinks.Secret{"key": "sk_\xff_secret"}))
	require.ErrorContains(t, err, `field "key": not valid UTF-8`)
	sinktest.AssertNoSecret(t, err.Error(), "sk_\xff_secret")
}

func TestNamespaceIsSentOnEveryRequest(t *testing.T) {
	f := setup(t)
	// Namespaces are a Vault Enterprise feature: the open-source server
	// here does not implement them, so this only checks what is sent.
	s := newSink(t, f, "namespace: team-a/, "+f.authYAML("approle"), sinks.Deps{})
	tg := bind(t, s, "mail/x")
	require.Equal(t, "vault team-a/secret/mail/x", tg.String())
	_ = s.Check(t.Context())
	_, _ = tg.Write(t.Context(), write("k", sinks.Secret{"key": "v"}))
	require.Equal(t, map[string]bool{"team-a": true}, s.proxy.namespaces())
}
