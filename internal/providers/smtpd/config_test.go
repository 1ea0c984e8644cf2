package smtpd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers/smtpd"
)

func section(t *testing.T, dir, src string) config.Section {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(src), &doc))
	return config.Section{Path: "providers.smtpd-prod", Type: "smtpd", BaseDir: dir, Node: doc.Content[0]}
}

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pw"), []byte("file-password\n"), 0o600))

	cfg, err := smtpd.ParseConfig(section(t, dir, `
type: smtpd
username: ops@example.com
password_file: pw
rate_limit: 0.5
request_timeout: 10s
`))
	require.NoError(t, err)
	require.Equal(t, "https://api.smtpd.dev", cfg.BaseURL, "default base_url")
	require.Equal(t, "ops@example.com", cfg.Username)
	require.Equal(t, "file-password", cfg.Password.Reveal())
	require.Equal(t, 0.5, cfg.RateLimit)
	require.Equal(t, config.Duration(10*time.Second), cfg.RequestTimeout)

	cfg, err = smtpd.ParseConfig(section(t, dir, `{type: smtpd, base_url: "http://127.0.0.1:8080", username: u, password: inline-pw}`))
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:8080", cfg.BaseURL)
	require.Equal(t, "inline-pw", cfg.Password.Reveal())
}

// TestParseConfigInsecureHTTP: cleartext to a host that is not loopback
// needs allow_insecure_http: true, written in the provider's section.
func TestParseConfigInsecureHTTP(t *testing.T) {
	for _, base := range []string{"http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "https://api.example.com"} {
		_, err := smtpd.ParseConfig(section(t, "", `{type: smtpd, username: u, password: pw, base_url: "`+base+`"}`))
		require.NoError(t, err, base)
	}
	_, err := smtpd.ParseConfig(section(t, "", `{type: smtpd, username: u, password: pw, base_url: "http://10.0.0.5:8080"}`))
	require.ErrorContains(t, err, "providers.smtpd-prod.base_url (line 1): \"http://10.0.0.5:8080\" would send credentials in cleartext")
	cfg, err := smtpd.ParseConfig(section(t, "", `{type: smtpd, username: u, password: pw, base_url: "http://10.0.0.5:8080", allow_insecure_http: true}`))
	require.NoError(t, err)
	require.True(t, cfg.AllowInsecureHTTP)
}

func TestParseConfigErrors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600))
	for src, want := range map[string]string{
		`{type: smtpd, username: u, password: topsecret-pw, api_key: x}`:                       `providers.smtpd-prod.api_key: unknown field "api_key"`,
		`{type: smtpd, password: topsecret-pw}`:                                                `providers.smtpd-prod.username: is required`,
		`{type: smtpd, username: u}`:                                                           `providers.smtpd-prod.password: one of password or password_file must be configured`,
		`{type: smtpd, username: u, password: topsecret-pw, password_file: pw}`:                `providers.smtpd-prod.password: at most one of password & password_file`,
		`{type: smtpd, username: u, password_file: missing}`:                                   `providers.smtpd-prod.password_file: read secret file`,
		`{type: smtpd, username: u, password_file: empty}`:                                     `providers.smtpd-prod.password_file: file`,
		`{type: smtpd, username: u, password: topsecret-pw, base_url: "ftp://x"}`:              `providers.smtpd-prod.base_url: "ftp://x" must be an http or https URL`,
		`{type: smtpd, username: u, password: topsecret-pw, base_url: "https://a:b@x"}`:        `providers.smtpd-prod.base_url: must not carry credentials`,
		`{type: smtpd, username: u, password: topsecret-pw, rate_limit: -1}`:                   `providers.smtpd-prod.rate_limit: must not be negative`,
		`{type: smtpd, username: u, password: topsecret-pw, request_timeout: soon}`:            `invalid duration "soon"`,
		`{type: smtpd, username: u, password: topsecret-pw, max_retries: -2}`:                  `providers.smtpd-prod.max_retries: must not be negative`,
		`{type: smtpd, username: u, password: topsecret-pw, base_url: "http://api.smtpd.dev"}`: `providers.smtpd-prod.base_url: "http://api.smtpd.dev" would send credentials in cleartext to api.smtpd.dev, which is not a loopback address: use https, or set allow_insecure_http: true in this section`,
		`{type: smtpd, username: u, password: topsecret-pw, list_max_keys: -1}`:                `providers.smtpd-prod.list_max_keys: must not be negative`,
		`{type: smtpd, username: u, password_file: /dev/zero}`:                                 `providers.smtpd-prod.password_file: read secret file: /dev/zero is a device: a secret file must be a regular file`,
	} {
		_, err := smtpd.ParseConfig(section(t, dir, src))
		require.Error(t, err, src)
		if path, msg, ok := strings.Cut(want, ": "); ok && strings.HasPrefix(path, "providers.") {
			require.Contains(t, err.Error(), path, src)
			want = msg
		}
		require.Contains(t, err.Error(), want, src)
		require.NotContains(t, err.Error(), "topsecret-pw", src)
	}
}

func TestNewRequiresCredentials(t *testing.T) {
	_, err := smtpd.New(smtpd.Config{Username: "u"}, depsForNew())
	require.Error(t, err)
}
