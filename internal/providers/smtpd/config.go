package smtpd

import (
	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// DefaultBaseURL is smtpd.dev's API root.
const DefaultBaseURL = "https://api.smtpd.dev"

// DefaultRateLimit is the request rate used when rate_limit is unset: smtpd
// publishes no limit, so stay gentle.
const DefaultRateLimit = 1.0

// Config is the YAML of a `type: smtpd` provider:
//
//	smtpd-prod:
//	  type: smtpd
//	  base_url: https://api.smtpd.dev   # default
//	  username: ops@example.com         # an owner/admin login (or an API key)
//	  password_file: /run/secrets/smtpd # or password: ...
//	  rate_limit: 1                     # requests per second, default 1
//	  request_timeout: 30s
//	  max_retries: 4
//	  list_max_keys: 50000              # keys one list may return (default)
//	  allow_insecure_http: false        # true allows http:// to a host that is not loopback
//
// The management login must be allowed to manage API keys: on smtpd.dev
// that is an owner or admin user login; no API key role lists key
// management.
type Config struct {
	httpapi.Config `yaml:",inline"`
	Username       string        `yaml:"username"`
	Password       config.Secret `yaml:"password"`
	PasswordFile   string        `yaml:"password_file"`
}

// ParseConfig decodes and validates a provider section strictly, reading
// password_file. It makes no network call.
func ParseConfig(sec config.Section) (Config, error) {
	var cfg Config
	if err := httpapi.DecodeSection(sec, &cfg, &cfg.Config, DefaultBaseURL); err != nil {
		return Config{}, err
	}
	if cfg.Username == "" {
		return Config{}, sec.Errorf("username", "is required (an owner or admin login of the smtpd.dev account)")
	}
	pw, err := sec.Secret("password", cfg.Password, cfg.PasswordFile, true)
	if err != nil {
		return Config{}, err
	}
	cfg.Password, cfg.PasswordFile = pw, ""
	return cfg, nil
}
