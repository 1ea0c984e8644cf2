package vault_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
					if err := s.Check(t.Context()); err != nil {
						t.Fatalf("s.Check(t.Context()): %v", err)
					}
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
					if err != nil {
						t.Fatalf("WriteWithContext: %v", err)
					}
				},
				Rebind: func(t *testing.T, tg sinks.Target, adopt bool, deps sinks.Deps) sinks.Target {
					b := lookup(tg)
					s := newSink(t, f, tc.extra, deps)
					nt, err := s.Bind(section(t, "keys[0].sinks[0]", fmt.Sprintf("{sink: vault, path: %s, adopt: %t}", b.path, adopt)))
					if err != nil {
						t.Fatalf("s.Bind: %v", err)
					}
					return nt
				},
				Secrets: f.secrets(),
			}
			if tc.v2 {
				h.Concurrent = func(t *testing.T, tg sinks.Target) {
					b := lookup(tg)
					b.sink.proxy.armRead(func() {
						_, err := f.dev.root.KVv2("secret").Put(context.Background(), b.path, map[string]any{"key": "written-by-someone-else"})
						if err != nil {
							t.Fatalf("f.dev.root.KVv2(\"secret\").Put: %v", err)
						}
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
	if err != nil {
		t.Fatalf("f.dev.root.Logical().WriteWithContext: %v", err)
	}

	v1, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1", "key_id": "k1"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if v1 != "1" {
		t.Fatalf("v1 = %q, want %q", v1, "1")
	}
	again, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1", "key_id": "k1"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if again != "1" {
		t.Fatalf("an identical rewrite made a new version: got %q, want %q", again, "1")
	}
	v2, err := tg.Write(ctx, write("k2", sinks.Secret{"key": "sk_2", "key_id": "k2"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if v2 != "2" {
		t.Fatalf("v2 = %q, want %q", v2, "2")
	}

	// What the vault client itself reads.
	kv, err := f.dev.root.KVv2("secret").Get(ctx, path)
	if err != nil {
		t.Fatalf("f.dev.root.KVv2(\"secret\").Get: %v", err)
	}
	if want := map[string]any{"key": "sk_2", "key_id": "k2"}; !reflect.DeepEqual(want, kv.Data) {
		t.Fatalf("kv.Data = %+v, want %+v", kv.Data, want)
	}
	if kv.VersionMetadata.Version != 2 {
		t.Fatalf("kv.VersionMetadata.Version = %v, want %v", kv.VersionMetadata.Version, 2)
	}

	meta, err := f.dev.root.KVv2("secret").GetMetadata(ctx, path)
	if err != nil {
		t.Fatalf("f.dev.root.KVv2(\"secret\").GetMetadata: %v", err)
	}
	if want := map[string]any{
		"owner":            "team-mail",
		"managed_by":       "rotator",
		"rotator_key_id":   "k2",
		"rotator_key_name": "rotator-smtpd-send-20261123T030000Z-k2",
		"rotated_at":       "2026-11-23T03:00:00Z",
	}; !reflect.DeepEqual(want, meta.CustomMetadata) {
		t.Fatalf("meta.CustomMetadata = %+v, want %+v", meta.CustomMetadata, want)
	}
}

func TestKV2ConflictIsReportedNotOverwritten(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	s := newSink(t, f, f.authYAML("approle"), sinks.Deps{})
	path := uniquePath("conflict")
	tg := bind(t, s, path)
	_, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}

	s.proxy.armRead(func() {
		_, err := f.dev.root.KVv2("secret").Put(context.Background(), path, map[string]any{"key": "operator"})
		if err != nil {
			t.Fatalf("f.dev.root.KVv2(\"secret\").Put: %v", err)
		}
	})
	_, err = tg.Write(ctx, write("k2", sinks.Secret{"key": "sk_2_do_not_leak"}))
	if !errors.Is(err, sinks.ErrConflict) {
		t.Fatalf("tg.Write: got error %v, want one that is %v", err, sinks.ErrConflict)
	}
	if err == nil || !strings.Contains(err.Error(), "write vault secret/"+path+": concurrent modification: the secret changed from version 1 to 2 since it was read; not overwritten") {
		t.Fatalf("got error %v, want one containing %q", err, "write vault secret/"+path+": concurrent modification: the secret changed from version 1 to 2 since it was read; not overwritten")
	}
	sinktest.AssertNoSecret(t, err.Error(), "sk_2_do_not_leak", "operator", "sk_1")

	kv, err := f.dev.root.KVv2("secret").Get(ctx, path)
	if err != nil {
		t.Fatalf("f.dev.root.KVv2(\"secret\").Get: %v", err)
	}
	if want := map[string]any{"key": "operator"}; !reflect.DeepEqual(want, kv.Data) {
		t.Fatalf("kv.Data = %+v, want %+v", kv.Data, want)
	}
	if kv.VersionMetadata.Version != 2 {
		t.Fatalf("kv.VersionMetadata.Version = %v, want %v", kv.VersionMetadata.Version, 2)
	}

	// Vault itself refused the write: the sink sent cas=1.
	if !slices.Contains(s.proxy.paths, "PUT /v1/secret/data/"+path) {
		t.Fatalf("got %+v, want it to contain %+v", s.proxy.paths, "PUT /v1/secret/data/"+path)
	}
}

func TestKV2DeletedSecretIsNotFoundThenRewritten(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	s := newSink(t, f, f.authYAML("token"), sinks.Deps{})
	path := uniquePath("deleted")
	tg := bind(t, s, path)
	_, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if err := f.dev.root.KVv2("secret").Delete(ctx, path); err != nil {
		t.Fatalf("f.dev.root.KVv2(\"secret\").Delete(ctx, path): %v", err)
	}

	_, err = tg.Read(ctx)
	if !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("tg.Read: got error %v, want one that is %v", err, sinks.ErrNotFound)
	}
	v, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if v != "2" {
		t.Fatalf("v = %q, want %q", v, "2")
	}
	got, err := tg.Read(ctx)
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if want := (sinks.Secret{"key": "sk_1"}); !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}
	// One line per step: the engine logs the write with its version
	// ("sink written"); the sink does not repeat it.
	if got := s.logs.FilterMessageSnippet("written").Len(); got != 0 {
		t.Fatalf("the sink logged its write: got %v, want zero", got)
	}
}

func TestKV1WriteIsPlainAndReadable(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	s := newSink(t, f, "mount: kv1, kv_version: 1, "+f.authYAML("token"), sinks.Deps{})
	path := uniquePath("v1")
	tg := bind(t, s, path)
	v, err := tg.Write(ctx, write("k1", sinks.Secret{"api_key": "em_1"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if v != "" {
		t.Fatalf("v = %q, want %q", v, "")
	}
	sec, err := f.dev.root.KVv1("kv1").Get(ctx, path)
	if err != nil {
		t.Fatalf("f.dev.root.KVv1(\"kv1\").Get: %v", err)
	}
	// KV v1 has no metadata: the ownership marker is a field of the data.
	if want := map[string]any{"api_key": "em_1", "_managed_by": "rotator"}; !reflect.DeepEqual(want, sec.Data) {
		t.Fatalf("sec.Data = %+v, want %+v", sec.Data, want)
	}
	if got := tg.String(); got != "vault kv1/"+path {
		t.Fatalf("tg.String() = %q, want %q", got, "vault kv1/"+path)
	}
	got, err := tg.Read(ctx)
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if want := (sinks.Secret{"api_key": "em_1"}); !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}
	if got := s.logs.FilterMessageSnippet("written").Len(); got != 0 {
		t.Fatalf("the sink logged its write (the engine does): got %v, want zero", got)
	}
}

func TestReadOfNonStringFieldNamesTheField(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	path := uniquePath("typed")
	_, err := f.dev.root.KVv2("secret").Put(ctx, path, map[string]any{"n": 42, "key": "sk_typed_secret"})
	if err != nil {
		t.Fatalf("f.dev.root.KVv2(\"secret\").Put: %v", err)
	}
	s := newSink(t, f, f.authYAML("token"), sinks.Deps{})
	_, err = bind(t, s, path).Read(ctx)
	if err == nil || !strings.Contains(err.Error(), `field "n" is not a string`) {
		t.Fatalf("bind(t, s, path).Read: got error %v, want one containing %q", err, `field "n" is not a string`)
	}
}

func TestWriteRejectsInvalidUTF8(t *testing.T) {
	f := setup(t)
	s := newSink(t, f, f.authYAML("token"), sinks.Deps{})
	_, err := bind(t, s, uniquePath("utf8")).Write(t.Context(), write("k", sinks.Secret{"key": "sk_\xff_secret"}))
	if err == nil || !strings.Contains(err.Error(), `field "key": not valid UTF-8`) {
		t.Fatalf("bind(t, s, uniquePath(\"utf8\")).Write: got error %v, want one containing %q", err, `field "key": not valid UTF-8`)
	}
	sinktest.AssertNoSecret(t, err.Error(), "sk_\xff_secret")
}

func TestNamespaceIsSentOnEveryRequest(t *testing.T) {
	f := setup(t)
	// Namespaces are a Vault Enterprise feature: the open-source server
	// here does not implement them, so this only checks what is sent.
	s := newSink(t, f, "namespace: team-a/, "+f.authYAML("approle"), sinks.Deps{})
	tg := bind(t, s, "mail/x")
	if got := tg.String(); got != "vault team-a/secret/mail/x" {
		t.Fatalf("tg.String() = %q, want %q", got, "vault team-a/secret/mail/x")
	}
	_ = s.Check(t.Context())
	_, _ = tg.Write(t.Context(), write("k", sinks.Secret{"key": "v"}))
	if got, want := s.proxy.namespaces(), map[string]bool{"team-a": true}; !reflect.DeepEqual(want, got) {
		t.Fatalf("s.proxy.namespaces() = %+v, want %+v", got, want)
	}
}
