package emailit

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// Defaults for an Emailit provider section.
const (
	DefaultBaseURL = "https://api.emailit.com"
	// DefaultRateLimit is Emailit's documented per-workspace limit ("Every
	// API endpoint has a rate limit of 2 requests per second", a sliding
	// window). httpapi's token bucket lets a burst of 2 through after an
	// idle spell, which the window may refuse; the first 429 drops the
	// burst to one and each 429 lowers the rate by 2 %, so the client
	// settles just under the limit (the served rate: docs/performance.md).
	DefaultRateLimit = 2.0
)

// Config is a `type: emailit` provider section:
//
//	emailit:
//	  type: emailit
//	  base_url: https://api.emailit.com   # the default; rotator adds /v2
//	  api_key_file: /run/secrets/emailit  # a full-scope key (or api_key)
//	  rate_limit: 2                       # requests/s for the workspace (default 2)
//	  request_timeout: 30s
//	  max_retries: 4
//	  list_max_keys: 50000                # keys one list may return (default)
//	  allow_insecure_http: false          # true allows http:// to a host that is not loopback
type Config struct {
	httpapi.Config `yaml:",inline"`
	// APIKey is the management key: a `full`-scope key, the only scope that
	// may manage API keys. After ParseConfig it holds the key whether it
	// was given inline or in APIKeyFile.
	APIKey     config.Secret `yaml:"api_key"`
	APIKeyFile string        `yaml:"api_key_file"`
}

// ParseConfig decodes and validates an emailit section strictly and reads
// api_key_file. It makes no network call. Errors are *config.FieldError
// values naming the field.
func ParseConfig(sec config.Section) (Config, error) {
	var c Config
	if err := httpapi.DecodeSection(sec, &c, &c.Config, DefaultBaseURL); err != nil {
		return Config{}, err
	}
	if err := checkBasePath(c.BaseURL); err != nil {
		return Config{}, sec.Field("base_url", err)
	}
	key, err := sec.Secret("api_key", c.APIKey, c.APIKeyFile, true)
	if err != nil {
		return Config{}, err
	}
	c.APIKey = key
	return c, nil
}

// checkBasePath rejects a base URL that already names the API version:
// requests go to /v2/..., so ".../v2" would call /v2/v2/api-keys.
func checkBasePath(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("invalid URL %q", base)
	}
	if p := strings.TrimSuffix(u.Path, "/"); strings.HasSuffix(p, "/v2") {
		return fmt.Errorf("%q ends in /v2: give the API root (such as %s); rotator adds /v2", base, DefaultBaseURL)
	}
	return nil
}
