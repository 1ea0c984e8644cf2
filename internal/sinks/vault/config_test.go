package vault_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/vault"
)

func sectionIn(t *testing.T, dir, path, src string) config.Section {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(src), &doc))
	return config.Section{Path: path, Type: "vault", BaseDir: dir, Node: doc.Content[0]}
}

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("hvs.file-token\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sid"), []byte("sid-from-file\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("pem"), 0o600))

	cfg, err := vault.ParseConfig(sectionIn(t, dir, "sinks.vault", `{type: vault, address: "https://vault:8200/", token_file: token, ca_cert: ca.pem, tls_server_name: vault.internal}`))
	require.NoError(t, err)
	require.Equal(t, vault.Config{
		Address: "https://vault:8200", Mount: "secret", KVVersion: 2,
		Token: "hvs.file-token", TokenFile: filepath.Join(dir, "token"),
		CACert: filepath.Join(dir, "ca.pem"), TLSServerName: "vault.internal",
	}, cfg)
	require.Equal(t, "token", cfg.AuthMethod())

	cfg, err = vault.ParseConfig(sectionIn(t, dir, "sinks.vault", `{type: vault, address: "http://127.0.0.1:8200", namespace: /team-a/, mount: /kv/, kv_version: 1,
  approle: {role_id: r1, secret_id_file: sid, mount_path: /ar/}}`))
	require.NoError(t, err)
	require.Equal(t, "team-a", cfg.Namespace)
	require.Equal(t, "kv", cfg.Mount)
	require.Equal(t, 1, cfg.KVVersion)
	require.Equal(t, &vault.AppRole{RoleID: "r1", SecretID: "sid-from-file", SecretIDFile: filepath.Join(dir, "sid"), MountPath: "ar"}, cfg.AppRole)
	require.Equal(t, "approle", cfg.AuthMethod())

	cfg, err = vault.ParseConfig(sectionIn(t, dir, "sinks.vault", `{type: vault, address: "http://localhost:8200", kubernetes: {role: rotator}}`))
	require.NoError(t, err)
	require.Equal(t, &vault.Kubernetes{Role: "rotator", TokenPath: vault.DefaultServiceAccountTokenPath, MountPath: "kubernetes"}, cfg.Kubernetes)

	// The secret never prints.
	cfg, err = vault.ParseConfig(sectionIn(t, dir, "sinks.vault", `{type: vault, address: "http://v:8200", allow_insecure_http: true, token: hvs.inline-secret}`))
	require.NoError(t, err)
	require.True(t, cfg.AllowInsecureHTTP)
	out, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	require.NotContains(t, string(out), "hvs.inline-secret")
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
			require.ErrorContains(t, err, tc.want)
			var fe *config.FieldError
			require.True(t, errors.As(err, &fe), "want a *config.FieldError, got %T", err)
		})
	}
}

func TestBindErrors(t *testing.T) {
	cfg, err := vault.ParseConfig(sectionIn(t, "", "sinks.vault", `{type: vault, address: "https://v", token: t}`))
	require.NoError(t, err)
	s, err := vault.New(cfg, sinks.Deps{})
	require.NoError(t, err)
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
			require.ErrorContains(t, err, tc.want)
		})
	}
	tg, err := s.Bind(sectionIn(t, "", "keys[0].sinks[0]", `{sink: vault, path: /mail/x/, fields: {a: b}}`))
	require.NoError(t, err)
	require.Equal(t, "vault secret/mail/x", tg.String())
	_, err = s.Bind(sectionIn(t, "", "keys[4].sinks[1]", `{sink: vault, path: mail/x}`))
	require.ErrorContains(t, err, "keys[4].sinks[1].path (line 1): secret/mail/x is already written by keys[0].sinks[0]")
	require.Equal(t, "vault", s.Type())
}
