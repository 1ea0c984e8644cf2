package vault

import (
	"net/netip"
	"net/url"
	"os"
	"strings"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
)

// DefaultServiceAccountTokenPath is where Kubernetes mounts a pod's service
// account token.
const DefaultServiceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// Config is a Vault sink's section:
//
//	sinks:
//	  vault:
//	    type: vault
//	    address: https://vault.example.com:8200
//	    namespace: team-a          # Vault Enterprise / HCP namespaces
//	    mount: secret              # default secret
//	    kv_version: 2              # 2 (default) or 1
//	    token_file: /run/secrets/vault-token   # or token, approle, kubernetes
//	    ca_cert: /etc/ssl/vault-ca.pem
//	    tls_server_name: vault.internal
//	    allow_insecure_http: false # true: accept http:// to another host
type Config struct {
	Address   string
	Namespace string
	Mount     string // no slashes at either end
	KVVersion int    // 1 or 2

	// Exactly one of Token/TokenFile, AppRole, Kubernetes is set.
	Token      config.Secret // read from TokenFile when that is set
	TokenFile  string        // re-read when the token stops working (Vault Agent rewrites it)
	AppRole    *AppRole
	Kubernetes *Kubernetes

	CACert        string // PEM file
	TLSServerName string
	TLSSkipVerify bool
	// AllowInsecureHTTP accepts an http:// address on a host other than
	// this machine (`allow_insecure_http`): the token and the secrets
	// travel in cleartext.
	AllowInsecureHTTP bool
}

// AppRole logs in with a role_id and a secret_id.
type AppRole struct {
	RoleID       string
	SecretID     config.Secret // read from SecretIDFile when that is set
	SecretIDFile string        // re-read at each login
	MountPath    string        // default approle
}

// Kubernetes logs in with the pod's service account token.
type Kubernetes struct {
	Role      string
	TokenPath string // re-read at each login
	MountPath string // default kubernetes
}

// AuthMethod names the configured auth method: token, approle or
// kubernetes.
func (c Config) AuthMethod() string {
	switch {
	case c.AppRole != nil:
		return "approle"
	case c.Kubernetes != nil:
		return "kubernetes"
	}
	return "token"
}

type rawConfig struct {
	Address       string         `yaml:"address"`
	Namespace     string         `yaml:"namespace"`
	Mount         string         `yaml:"mount"`
	KVVersion     int            `yaml:"kv_version"`
	Token         config.Secret  `yaml:"token"`
	TokenFile     string         `yaml:"token_file"`
	AppRole       *rawAppRole    `yaml:"approle"`
	Kubernetes    *rawKubernetes `yaml:"kubernetes"`
	CACert        string         `yaml:"ca_cert"`
	TLSServerName string         `yaml:"tls_server_name"`
	TLSSkipVerify bool           `yaml:"tls_skip_verify"`
	AllowInsecure bool           `yaml:"allow_insecure_http"`
}

type rawAppRole struct {
	RoleID       string        `yaml:"role_id"`
	SecretID     config.Secret `yaml:"secret_id"`
	SecretIDFile string        `yaml:"secret_id_file"`
	MountPath    string        `yaml:"mount_path"`
}

type rawKubernetes struct {
	Role                    string `yaml:"role"`
	ServiceAccountTokenPath string `yaml:"service_account_token_path"`
	MountPath               string `yaml:"mount_path"`
}

// ParseConfig decodes and validates a Vault sink's section and reads the
// secret files it names. It makes no network call.
func ParseConfig(sec config.Section) (Config, error) {
	var raw rawConfig
	if err := sec.Decode(&raw, "type"); err != nil {
		return Config{}, err
	}
	cfg := Config{
		Address:       strings.TrimRight(raw.Address, "/"),
		Namespace:     strings.Trim(raw.Namespace, "/"),
		Mount:         strings.Trim(raw.Mount, "/"),
		KVVersion:     raw.KVVersion,
		CACert:        sec.Resolve(raw.CACert),
		TLSServerName: raw.TLSServerName,
		TLSSkipVerify: raw.TLSSkipVerify,

		AllowInsecureHTTP: raw.AllowInsecure,
	}
	u, err := parseAddress(sec, cfg, raw.Address)
	if err != nil {
		return Config{}, err
	}
	if cfg.Mount == "" {
		cfg.Mount = "secret"
	}
	switch cfg.KVVersion {
	case 0:
		cfg.KVVersion = 2
	case 1, 2:
	default:
		return Config{}, sec.Errorf("kv_version", "%d is not 1 or 2", raw.KVVersion)
	}
	if err := parseAuth(sec, raw, &cfg); err != nil {
		return Config{}, err
	}
	if err := checkTLS(sec, cfg, u); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// parseAddress checks cfg.Address (rawAddress as written, for errors): an
// http:// or https:// URL without credentials, http:// only to this machine
// unless cfg.AllowInsecureHTTP.
func parseAddress(sec config.Section, cfg Config, rawAddress string) (*url.URL, error) {
	if cfg.Address == "" {
		return nil, sec.Errorf("address", "required: the Vault server's URL, such as https://vault.example.com:8200")
	}
	u, err := url.Parse(cfg.Address)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, sec.Errorf("address", "%q is not an http:// or https:// URL", rawAddress)
	}
	if u.User != nil {
		return nil, sec.Errorf("address", "must not hold credentials")
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) && !cfg.AllowInsecureHTTP {
		return nil, sec.Errorf("address", "%q is http:// to a host other than this machine: the token and every secret would cross the network in cleartext; use https://, or set allow_insecure_http: true on %s to accept that", cfg.Address, sec.Path)
	}
	return u, nil
}

// parseAuth checks that exactly one auth method is configured and sets it
// on cfg: a token (or token file), approle or kubernetes.
func parseAuth(sec config.Section, raw rawConfig, cfg *Config) error {
	methods := 0
	if raw.Token != "" || raw.TokenFile != "" {
		methods++
	}
	if raw.AppRole != nil {
		methods++
	}
	if raw.Kubernetes != nil {
		methods++
	}
	if methods != 1 {
		return sec.Errorf("token", "exactly one of token, token_file, approle, kubernetes must be configured (found %d)", methods)
	}
	switch {
	case raw.AppRole != nil:
		ar, err := parseAppRole(sec, raw.AppRole)
		if err != nil {
			return err
		}
		cfg.AppRole = ar
	case raw.Kubernetes != nil:
		k, err := parseKubernetes(sec, raw.Kubernetes)
		if err != nil {
			return err
		}
		cfg.Kubernetes = k
	default:
		tok, err := sec.Secret("token", raw.Token, raw.TokenFile, true)
		if err != nil {
			return err
		}
		cfg.Token, cfg.TokenFile = tok, sec.Resolve(raw.TokenFile)
	}
	return nil
}

func parseKubernetes(sec config.Section, k *rawKubernetes) (*Kubernetes, error) {
	if k.Role == "" {
		return nil, sec.Errorf("kubernetes.role", "required: the Vault role bound to the service account")
	}
	kc := &Kubernetes{Role: k.Role, TokenPath: k.ServiceAccountTokenPath, MountPath: strings.Trim(k.MountPath, "/")}
	if kc.TokenPath == "" {
		kc.TokenPath = DefaultServiceAccountTokenPath
	} else {
		kc.TokenPath = sec.Resolve(kc.TokenPath)
	}
	if kc.MountPath == "" {
		kc.MountPath = "kubernetes"
	}
	return kc, nil
}

// checkTLS rejects TLS settings on an address (u) that is not https, and a
// ca_cert that cannot be read.
func checkTLS(sec config.Section, cfg Config, u *url.URL) error {
	if cfg.CACert != "" {
		if u.Scheme != "https" {
			return sec.Errorf("ca_cert", "is set but address %q is not https", cfg.Address)
		}
		if _, err := os.Stat(cfg.CACert); err != nil {
			return sec.Errorf("ca_cert", "%v", err)
		}
	}
	if cfg.TLSSkipVerify && u.Scheme != "https" {
		return sec.Errorf("tls_skip_verify", "is set but address %q is not https", cfg.Address)
	}
	if cfg.TLSServerName != "" && u.Scheme != "https" {
		return sec.Errorf("tls_server_name", "is set but address %q is not https", cfg.Address)
	}
	return nil
}

// loopback reports whether host is this machine: localhost or a loopback
// address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func parseAppRole(sec config.Section, raw *rawAppRole) (*AppRole, error) {
	if raw.RoleID == "" {
		return nil, sec.Errorf("approle.role_id", "required")
	}
	sub := sec
	sub.Path = sec.Path + ".approle"
	sid, err := sub.Secret("secret_id", raw.SecretID, raw.SecretIDFile, true)
	if err != nil {
		return nil, err
	}
	ar := &AppRole{RoleID: raw.RoleID, SecretID: sid, SecretIDFile: sec.Resolve(raw.SecretIDFile), MountPath: strings.Trim(raw.MountPath, "/")}
	if ar.MountPath == "" {
		ar.MountPath = "approle"
	}
	return ar, nil
}

// TargetConfig is a key's target on a Vault sink:
//
//	sinks:
//	  - {sink: vault, path: mail/smtpd-send}
type TargetConfig struct {
	// Path is the secret's path relative to the mount, without KV v2's
	// data/ prefix: mail/smtpd-send is written to secret/data/mail/smtpd-send.
	Path string `yaml:"path"`
	// Adopt lets a write replace a secret rotator did not write (KV v2: no
	// custom_metadata managed_by=rotator; KV v1: no _managed_by field); it
	// is marked as rotator's from then on.
	Adopt bool `yaml:"adopt"`
}

func parseTarget(sec config.Section, kvVersion int) (TargetConfig, error) {
	var tc TargetConfig
	if err := sinks.DecodeTarget(sec, &tc); err != nil {
		return TargetConfig{}, err
	}
	p := strings.Trim(tc.Path, "/")
	if p == "" {
		return TargetConfig{}, sec.Errorf("path", "required: the secret's path relative to the mount, such as mail/smtpd-send")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return TargetConfig{}, sec.Errorf("path", "%q has an empty, . or .. segment", tc.Path)
		}
	}
	if strings.ContainsAny(p, "*+?#%\x00") {
		return TargetConfig{}, sec.Errorf("path", "%q holds a character Vault paths cannot (*, +, ?, #, %%)", tc.Path)
	}
	if kvVersion == 2 && (strings.HasPrefix(p, "data/") || strings.HasPrefix(p, "metadata/")) {
		return TargetConfig{}, sec.Errorf("path", "%q: give the path without KV v2's data/ or metadata/ prefix; the sink adds it", tc.Path)
	}
	tc.Path = p
	return tc, nil
}
