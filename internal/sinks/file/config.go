package file

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
)

// DefaultMode is the permission of written files unless `mode` says
// otherwise: readable and writable by the daemon's user only.
const DefaultMode fs.FileMode = 0o600

// Config is a file sink's section:
//
//	sinks:
//	  local: {type: file, dir: /var/lib/rotator/out, mode: "0640"}
type Config struct {
	// Dir is the folder every target of this sink is written under; a
	// relative `dir` resolves against the configuration file's folder.
	Dir string
	// Mode is the permission of written files (`mode`, an octal string,
	// default "0600"). It must let the owner read and write, and must not
	// give other users any access.
	Mode fs.FileMode
}

type rawConfig struct {
	Dir  string `yaml:"dir"`
	Mode string `yaml:"mode"`
}

// ParseConfig decodes and validates a file sink's section. It touches no
// file; Check verifies the folder is writable.
func ParseConfig(sec config.Section) (Config, error) {
	var raw rawConfig
	if err := sec.Decode(&raw, "type"); err != nil {
		return Config{}, err
	}
	if raw.Dir == "" {
		return Config{}, sec.Errorf("dir", "required: the folder the files are written to")
	}
	cfg := Config{Dir: filepath.Clean(sec.Resolve(raw.Dir)), Mode: DefaultMode}
	if raw.Mode != "" {
		m, err := parseMode(raw.Mode)
		if err != nil {
			return Config{}, sec.Field("mode", err)
		}
		cfg.Mode = m
	}
	return cfg, nil
}

func parseMode(s string) (fs.FileMode, error) {
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	v, err := strconv.ParseUint(digits, 8, 32)
	if err != nil || v > 0o777 {
		return 0, fmt.Errorf("%q is not an octal permission such as \"0600\" or \"0640\"", s)
	}
	m := fs.FileMode(v)
	if m&0o600 != 0o600 {
		return 0, fmt.Errorf("%s does not let the owner read and write the file (rotator reads it back): use 0600 or 0640", s)
	}
	if m&0o007 != 0 {
		return 0, fmt.Errorf("%s gives other users access to a secret: use 0600 or 0640", s)
	}
	if m&0o111 != 0 {
		return 0, fmt.Errorf("%s makes a secret file executable: use 0600 or 0640", s)
	}
	return m, nil
}

// Format is how a target's file is encoded.
type Format string

const (
	// FormatJSON is a JSON object of strings, keys sorted, two-space indent.
	FormatJSON Format = "json"
	// FormatEnv is `NAME=value` lines sorted by name, in POSIX shell syntax:
	// `set -a; . ./file.env` loads every value exactly.
	FormatEnv Format = "env"
)

// TargetConfig is a key's target on a file sink:
//
//	sinks:
//	  - {sink: local, path: smtpd-send.env, format: env, adopt: false}
type TargetConfig struct {
	// Path is relative to the sink's dir and may not leave it.
	Path string `yaml:"path"`
	// Format is json or env; by default env for a .env file, else json.
	Format Format `yaml:"format"`
	// Adopt lets the first write replace a file rotator did not write
	// (one without its marker); the file is rotator's from then on.
	Adopt bool `yaml:"adopt"`
}

// parseTarget decodes a target section and validates it against the sink.
func parseTarget(sec config.Section) (TargetConfig, error) {
	var tc TargetConfig
	if err := sinks.DecodeTarget(sec, &tc); err != nil {
		return TargetConfig{}, err
	}
	switch {
	case tc.Path == "":
		return TargetConfig{}, sec.Errorf("path", "required: the file to write, relative to the sink's dir")
	case filepath.IsAbs(tc.Path):
		return TargetConfig{}, sec.Errorf("path", "%q is absolute: give a path relative to the sink's dir", tc.Path)
	case !filepath.IsLocal(tc.Path):
		return TargetConfig{}, sec.Errorf("path", "%q leaves the sink's dir", tc.Path)
	case strings.HasSuffix(tc.Path, "/") || filepath.Clean(tc.Path) == ".":
		return TargetConfig{}, sec.Errorf("path", "%q names a folder, not a file", tc.Path)
	}
	switch tc.Format {
	case "":
		tc.Format = FormatJSON
		if strings.EqualFold(filepath.Ext(tc.Path), ".env") {
			tc.Format = FormatEnv
		}
	case FormatJSON, FormatEnv:
	default:
		return TargetConfig{}, sec.Errorf("format", "%q is not one of json, env", tc.Format)
	}
	return tc, nil
}
