package smtpd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers/smtpd"
)

func section(t *testing.T, dir, src string) config.Section {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml.Unmarshal([]byte(src), &doc): %v", err)
	}
	return config.Section{Path: "providers.smtpd-prod", Type: "smtpd", BaseDir: dir, Node: doc.Content[0]}
}

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("file-password\n"), 0o600); err != nil {
		t.Fatalf("os.WriteFile: %v", err)
	}

	cfg, err := smtpd.ParseConfig(section(t, dir, `
type: smtpd
username: ops@example.com
password_file: pw
rate_limit: 0.5
request_timeout: 10s
`))
	if err != nil {
		t.Fatalf("smtpd.ParseConfig: %v", err)
	}
	if cfg.BaseURL != "https://api.smtpd.dev" {
		t.Fatalf("default base_url: got %q, want %q", cfg.BaseURL, "https://api.smtpd.dev")
	}
	if cfg.Username != "ops@example.com" {
		t.Fatalf("cfg.Username = %q, want %q", cfg.Username, "ops@example.com")
	}
	if got := cfg.Password.Reveal(); got != "file-password" {
		t.Fatalf("cfg.Password.Reveal() = %q, want %q", got, "file-password")
	}
	if cfg.RateLimit != 0.5 {
		t.Fatalf("cfg.RateLimit = %v, want %v", cfg.RateLimit, 0.5)
	}
	if cfg.RequestTimeout != config.Duration(10*time.Second) {
		t.Fatalf("cfg.RequestTimeout = %v, want %v", cfg.RequestTimeout, config.Duration(10*time.Second))
	}

	cfg, err = smtpd.ParseConfig(section(t, dir, `{type: smtpd, base_url: "http://127.0.0.1:8080", username: u, password: inline-pw}`))
	if err != nil {
		t.Fatalf("smtpd.ParseConfig: %v", err)
	}
	if cfg.BaseURL != "http://127.0.0.1:8080" {
		t.Fatalf("cfg.BaseURL = %q, want %q", cfg.BaseURL, "http://127.0.0.1:8080")
	}
	if got := cfg.Password.Reveal(); got != "inline-pw" {
		t.Fatalf("cfg.Password.Reveal() = %q, want %q", got, "inline-pw")
	}
}

// TestParseConfigInsecureHTTP: cleartext to a host that is not loopback
// needs allow_insecure_http: true, written in the provider's section.
func TestParseConfigInsecureHTTP(t *testing.T) {
	for _, base := range []string{"http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "https://api.example.com"} {
		_, err := smtpd.ParseConfig(section(t, "", `{type: smtpd, username: u, password: pw, base_url: "`+base+`"}`))
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
	}
	_, err := smtpd.ParseConfig(section(t, "", `{type: smtpd, username: u, password: pw, base_url: "http://10.0.0.5:8080"}`))
	if err == nil || !strings.Contains(err.Error(), "providers.smtpd-prod.base_url (line 1): \"http://10.0.0.5:8080\" would send credentials in cleartext") {
		t.Fatalf("smtpd.ParseConfig: got error %v, want one containing %q", err, "providers.smtpd-prod.base_url (line 1): \"http://10.0.0.5:8080\" would send credentials in cleartext")
	}
	cfg, err := smtpd.ParseConfig(section(t, "", `{type: smtpd, username: u, password: pw, base_url: "http://10.0.0.5:8080", allow_insecure_http: true}`))
	if err != nil {
		t.Fatalf("smtpd.ParseConfig: %v", err)
	}
	if !cfg.AllowInsecureHTTP {
		t.Fatalf("cfg.AllowInsecureHTTP: got false, want true")
	}
}

func TestParseConfigErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600); err != nil {
		t.Fatalf("os.WriteFile(filepath.Join(dir, \"empty\"), nil, 0o600): %v", err)
	}
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
		if err == nil {
			t.Fatalf("%s: got no error, want one", src)
		}
		if path, msg, ok := strings.Cut(want, ": "); ok && strings.HasPrefix(path, "providers.") {
			if got := err.Error(); !strings.Contains(got, path) {
				t.Fatalf("%s: got %q, want it to contain %q", src, got, path)
			}
			want = msg
		}
		if got := err.Error(); !strings.Contains(got, want) {
			t.Fatalf("%s: got %q, want it to contain %q", src, got, want)
		}
		if got := err.Error(); strings.Contains(got, "topsecret-pw") {
			t.Fatalf("%s: got %q, want it not to contain %q", src, got, "topsecret-pw")
		}
	}
}

func TestNewRequiresCredentials(t *testing.T) {
	_, err := smtpd.New(smtpd.Config{Username: "u"}, depsForNew())
	if err == nil {
		t.Fatalf("smtpd.New: got no error, want one")
	}
}
