package emailit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
)

func section(t *testing.T, dir, src string) config.Section {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return config.Section{Path: "providers.emailit", Type: "emailit", BaseDir: dir, Node: doc.Content[0]}
}

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	const key = "secret_0123456789abcdefghijABCDEFGHIJ"
	if err := os.WriteFile(filepath.Join(dir, "emailit.key"), []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty.key"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	c, err := ParseConfig(section(t, dir, "type: emailit\napi_key_file: emailit.key\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != DefaultBaseURL || c.APIKey.Reveal() != key || c.RateLimit != 0 {
		t.Fatalf("parsed %+v", c)
	}
	c, err = ParseConfig(section(t, dir, "type: emailit\nbase_url: http://127.0.0.1:8080/proxy\napi_key: inline\nrate_limit: 1.5\nrequest_timeout: 10s\nmax_retries: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != "http://127.0.0.1:8080/proxy" || c.APIKey.Reveal() != "inline" || c.RateLimit != 1.5 || c.MaxRetries != 2 {
		t.Fatalf("parsed %+v", c)
	}

	for _, bad := range []struct{ src, want string }{
		{"type: emailit\n", "providers.emailit.api_key (line 1): one of api_key or api_key_file must be configured"},
		{"type: emailit\napi_key: a\napi_key_file: emailit.key\n", "providers.emailit.api_key (line 2): at most one of api_key & api_key_file"},
		{"type: emailit\napi_key_file: missing.key\n", "providers.emailit.api_key_file (line 2): read secret file"},
		{"type: emailit\napi_key_file: empty.key\n", "providers.emailit.api_key_file (line 2): file"},
		{"type: emailit\napi_key: a\nusername: x\n", `providers.emailit.username (line 3): unknown field "username"`},
		{"type: emailit\napi_key: a\nbase_url: ftp://x\n", "providers.emailit.base_url (line 3): "},
		{"type: emailit\napi_key: a\nbase_url: https://api.emailit.com/v2\n", "ends in /v2"},
		{"type: emailit\napi_key: a\nrate_limit: -1\n", "providers.emailit.rate_limit (line 3): must not be negative"},
		{"type: emailit\napi_key: a\nrequest_timeout: soon\n", "providers.emailit"},
		{"type: emailit\napi_key: a\nbase_url: http://api.emailit.com\n", "providers.emailit.base_url (line 3): \"http://api.emailit.com\" would send credentials in cleartext to api.emailit.com, which is not a loopback address: use https, or set allow_insecure_http: true in this section"},
		{"type: emailit\napi_key_file: /dev/zero\n", "providers.emailit.api_key_file (line 2): read secret file: /dev/zero is a device"},
	} {
		_, err := ParseConfig(section(t, dir, bad.src))
		var fe *config.FieldError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want a FieldError containing %q", bad.src, err, bad.want)
		}
		if err != nil && strings.Contains(err.Error(), key) {
			t.Errorf("the key is in %q", err)
		}
	}
}

func TestNewNeedsKey(t *testing.T) {
	if _, err := New(Config{}, providers.Deps{}); err == nil {
		t.Fatal("New without api_key succeeded")
	}
	if _, err := New(Config{APIKey: "k"}, providers.Deps{}); err != nil {
		t.Fatalf("New with the default base URL: %v", err)
	}
}
