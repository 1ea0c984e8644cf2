package vault_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/vault"
)

func sectionIn(t *testing.T, dir, path, src string) config.Section {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml.Unmarshal([]byte(src), &doc): %v", err)
	}
	return config.Section{Path: path, Type: "vault", BaseDir: dir, Node: doc.Content[0]}
}

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("hvs.file-token\n"), 0o600); err != nil {
		t.Fatalf("os.WriteFile: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sid"), []byte("sid-from-file\n"), 0o600); err != nil {
		t.Fatalf("os.WriteFile: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("pem"), 0o600); err != nil {
		t.Fatalf("os.WriteFile(filepath.Join(dir, \"ca.pem\"), []byte(\"pem\"), 0o600): %v", err)
	}

	cfg, err := vault.ParseConfig(sectionIn(t, dir, "sinks.vault", `{type: vault, address: "https://vault:8200/", token_file: token, ca_cert: ca.pem, tls_server_name: vault.internal}`))
	if err != nil {
		t.Fatalf("vault.ParseConfig: %v", err)
	}
	if want := (vault.Config{
		Address: "https://vault:8200", Mount: "secret", KVVersion: 2,
		Token: "hvs.file-token", TokenFile: filepath.Join(dir, "token"),
		CACert: filepath.Join(dir, "ca.pem"), TLSServerName: "vault.internal",
	}); !reflect.DeepEqual(want, cfg) {
		t.Fatalf("cfg = %+v, want %+v", cfg, want)
	}
	if got := cfg.AuthMethod(); got != "token" {
		t.Fatalf("cfg.AuthMethod() = %q, want %q", got, "token")
	}

	cfg, err = vault.ParseConfig(sectionIn(t, dir, "sinks.vault", `{type: vault, address: "http://127.0.0.1:8200", namespace: /team-a/, mount: /kv/, kv_version: 1,
  approle: {role_id: r1, secret_id_file: sid, mount_path: /ar/}}`))
	if err != nil {
		t.Fatalf("vault.ParseConfig: %v", err)
	}
	if cfg.Namespace != "team-a" {
		t.Fatalf("cfg.Namespace = %q, want %q", cfg.Namespace, "team-a")
	}
	if cfg.Mount != "kv" {
		t.Fatalf("cfg.Mount = %q, want %q", cfg.Mount, "kv")
	}
	if cfg.KVVersion != 1 {
		t.Fatalf("cfg.KVVersion = %v, want %v", cfg.KVVersion, 1)
	}
	if want := (&vault.AppRole{RoleID: "r1", SecretID: "sid-from-file", SecretIDFile: filepath.Join(dir, "sid"), MountPath: "ar"}); !reflect.DeepEqual(want, cfg.AppRole) {
		t.Fatalf("cfg.AppRole = %+v, want %+v", cfg.AppRole, want)
	}
	if got := cfg.AuthMethod(); got != "approle" {
		t.Fatalf("cfg.AuthMethod() = %q, want %q", got, "approle")
	}

	cfg, err = vault.ParseConfig(sectionIn(t, dir, "sinks.vault", `{type: vault, address: "http://localhost:8200", kubernetes: {role: rotator}}`))
	if err != nil {
		t.Fatalf("vault.ParseConfig: %v", err)
	}
	if want := (&vault.Kubernetes{Role: "rotator", TokenPath: vault.DefaultServiceAccountTokenPath, MountPath: "kubernetes"}); !reflect.DeepEqual(want, cfg.Kubernetes) {
		t.Fatalf("cfg.Kubernetes = %+v, want %+v", cfg.Kubernetes, want)
	}

	// The secret never prints.
	cfg, err = vault.ParseConfig(sectionIn(t, dir, "sinks.vault", `{type: vault, address: "http://v:8200", allow_insecure_http: true, token: hvs.inline-secret}`))
	if err != nil {
		t.Fatalf("vault.ParseConfig: %v", err)
	}
	if !cfg.AllowInsecureHTTP {
		t.Fatalf("cfg.AllowInsecureHTTP: got false, want true")
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("yaml.Marshal: %v", err)
	}
	if strings.Contains(string(out), "hvs.inline-secret") {
		t.Fatalf("got %q, want it not to contain %q", string(out), "hvs.inline-secret")
	}
}

func TestParseConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ src, want string }{
		"no address":          {`{type: vault, token: t}`, "sinks.vault.address (line 1): required"},
		"address not a url":   {`{type: vault, address: "vault:8200", token: t}`, `sinks.vault.address (line 1): "vault:8200" is not an http:// or https:// URL`},
		"address ftp":         {`{type: vault, address: "ftp://vault", token: t}`, `is not an http:// or https:// URL`},
		"address with creds":  {`{type: vault, address: "https://u:p@vault", token: t}`, `sinks.vault.address (line 1): must not hold credentials`},
		"kv_version 3":        {`{type: vault, address: "https://v", token: t, kv_version: 3}`, "sinks.vault.kv_version (line 1): 3 is not 1 or 2"},
		"no auth":             {`{type: vault, address: "https://v"}`, "exactly one of token, token_file, approle, kubernetes must be configured (found 0)"},
		"two auths":           {`{type: vault, address: "https://v", token: t, kubernetes: {role: r}}`, "(found 2)"},
		"token and file":      {`{type: vault, address: "https://v", token: t, token_file: f}`, "sinks.vault.token (line 1): at most one of token & token_file"},
		"token file missing":  {`{type: vault, address: "https://v", token_file: nope}`, "sinks.vault.token_file (line 1): read secret file: " + filepath.Join(dir, "nope") + ": no such file or directory"},
		"approle no role_id":  {`{type: vault, address: "https://v", approle: {secret_id: s}}`, "sinks.vault.approle.role_id (line 1): required"},
		"approle no secret":   {`{type: vault, address: "https://v", approle: {role_id: r}}`, "sinks.vault.approle.secret_id (line 1): one of secret_id or secret_id_file must be configured"},
		"approle typo":        {`{type: vault, address: "https://v", approle: {role_id: r, secretid: s}}`, `sinks.vault.approle.secretid (line 1): unknown field "secretid"`},
		"kubernetes no role":  {`{type: vault, address: "https://v", kubernetes: {}}`, "sinks.vault.kubernetes.role (line 1): required"},
		"unknown field":       {`{type: vault, address: "https://v", token: t, path: x}`, `sinks.vault.path (line 1): unknown field "path"`},
		"ca_cert on http":     {`{type: vault, address: "http://[::1]", token: t, ca_cert: ca.pem}`, `sinks.vault.ca_cert (line 1): is set but address "http://[::1]" is not https`},
		"ca_cert missing":     {`{type: vault, address: "https://v", token: t, ca_cert: ca.pem}`, "sinks.vault.ca_cert (line 1): stat " + filepath.Join(dir, "ca.pem") + ": no such file"},
		"skip verify on http": {`{type: vault, address: "http://127.0.0.2", token: t, tls_skip_verify: true}`, "sinks.vault.tls_skip_verify (line 1): is set but"},
		"server name on http": {`{type: vault, address: "http://v", allow_insecure_http: true, token: t, tls_server_name: x}`, "sinks.vault.tls_server_name (line 1): is set but"},
		"http to another host": {`{type: vault, address: "http://vault.example.com:8200", token: t}`, `sinks.vault.address (line 1): "http://vault.example.com:8200" is http:// to a host other than this machine: ` +
			`the token and every secret would cross the network in cleartext; use https://, or set allow_insecure_http: true on sinks.vault to accept that`},
		"http to a LAN address": {`{type: vault, address: "http://10.0.0.5:8200", token: t}`, `is http:// to a host other than this machine`},
		"http to a mapped v4":   {`{type: vault, address: "http://[::ffff:10.0.0.5]:8200", token: t}`, `is http:// to a host other than this machine`},
		"insecure not bool":     {`{type: vault, address: "http://v", allow_insecure_http: yes please, token: t}`, "sinks.vault (line 1): "},
		"skip verify not bool":  {`{type: vault, address: "https://v", token: t, tls_skip_verify: maybe}`, "sinks.vault (line 1): "},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := vault.ParseConfig(sectionIn(t, dir, "sinks.vault", tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("vault.ParseConfig: got error %v, want one containing %q", err, tc.want)
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("want a *config.FieldError, got %T: got false, want true", err)
			}
		})
	}
}

func TestBindErrors(t *testing.T) {
	cfg, err := vault.ParseConfig(sectionIn(t, "", "sinks.vault", `{type: vault, address: "https://v", token: t}`))
	if err != nil {
		t.Fatalf("vault.ParseConfig: %v", err)
	}
	s, err := vault.New(cfg, sinks.Deps{})
	if err != nil {
		t.Fatalf("vault.New: %v", err)
	}
	defer s.Close()
	cases := map[string]struct{ src, want string }{
		"missing path":  {`{sink: vault}`, "keys[0].sinks[0].path (line 1): required"},
		"dot dot":       {`{sink: vault, path: a/../b}`, `keys[0].sinks[0].path (line 1): "a/../b" has an empty, . or .. segment`},
		"double slash":  {`{sink: vault, path: a//b}`, `has an empty, . or .. segment`},
		"glob":          {`{sink: vault, path: "a/*"}`, `holds a character Vault paths cannot`},
		"data prefix":   {`{sink: vault, path: data/mail/x}`, `"data/mail/x": give the path without KV v2's data/ or metadata/ prefix`},
		"unknown field": {`{sink: vault, path: x, format: env}`, `keys[0].sinks[0].format (line 1): unknown field "format"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := s.Bind(sectionIn(t, "", "keys[0].sinks[0]", tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("s.Bind: got error %v, want one containing %q", err, tc.want)
			}
		})
	}
	tg, err := s.Bind(sectionIn(t, "", "keys[0].sinks[0]", `{sink: vault, path: /mail/x/, fields: {a: b}}`))
	if err != nil {
		t.Fatalf("s.Bind: %v", err)
	}
	if got := tg.String(); got != "vault secret/mail/x" {
		t.Fatalf("tg.String() = %q, want %q", got, "vault secret/mail/x")
	}
	_, err = s.Bind(sectionIn(t, "", "keys[4].sinks[1]", `{sink: vault, path: mail/x}`))
	if err == nil || !strings.Contains(err.Error(), "keys[4].sinks[1].path (line 1): secret/mail/x is already written by keys[0].sinks[0]") {
		t.Fatalf("s.Bind: got error %v, want one containing %q", err, "keys[4].sinks[1].path (line 1): secret/mail/x is already written by keys[0].sinks[0]")
	}
	if got := s.Type(); got != "vault" {
		t.Fatalf("s.Type() = %q, want %q", got, "vault")
	}
}
