// Package config loads rotator's YAML policy: strict (an unknown field is
// an error), with defaults, ${ENV} expansion, *_file secrets, relative paths
// resolved against the configuration file's folder, and errors that name
// the YAML path and line.
//
// Provider and sink sections are kept as Sections: the backend named by
// their type decodes them into its own Config type (see internal/wire).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"reflect"
	"regexp"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Config is a loaded, validated policy.
type Config struct {
	// Listen is the address of /metrics, /healthz, /readyz and /status.
	Listen string
	// StatePath is the bbolt state file, resolved against the config folder.
	StatePath string
	// State is the state backend (state.go); with postgres, StatePath is "".
	State State
	// MaxConcurrent bounds the keys worked on at once.
	MaxConcurrent int
	// ShutdownTimeout bounds the drain on SIGTERM.
	ShutdownTimeout time.Duration
	// OrphanScanInterval is how often each provider is listed for keys
	// carrying a managed key's prefix that the state does not know.
	OrphanScanInterval time.Duration
	// ControlToken (control.token_file) is the bearer token /status
	// requires; empty: /status answers only on loopback.
	ControlToken Secret
	// ControlListen (control.listen) is the address of the control API
	// over HTTP; empty: the unix socket only.
	ControlListen string
	// ControlSocket (control.socket, backend postgres only) is a replica's
	// control socket; empty: none (bbolt's is beside StatePath).
	ControlSocket string
	// Providers and Sinks are in file order.
	Providers []Section
	Sinks     []Section
	// Hooks are the top-level hooks, in file order (hooks.go).
	Hooks []Hook
	Keys  []Key
	// BaseDir is the configuration file's folder.
	BaseDir string
	// Warnings collects what works but should be fixed, from Load and from
	// the backends decoding the sections (every Section points to it).
	Warnings *Warnings
}

// Key is one managed key with every default applied.
type Key struct {
	Name         string
	Provider     string
	Params       map[string]string
	ScheduleSpec string
	Schedule     cron.Schedule
	Grace        time.Duration
	KeepAlive    time.Duration
	Jitter       time.Duration
	Timeout      time.Duration
	NamePrefix   string
	PruneOrphans bool
	Paused       bool
	// Revocation says when superseded keys are revoked.
	Revocation Revocation
	// Hooks tell consumers what happened to the key (hooks.go).
	Hooks   []HookRef
	Targets []Target
	// Path is the key's YAML path ("keys[1]") and Line its line.
	Path string
	Line int
}

// Target is one sink a key is written to.
type Target struct {
	Sink string
	// Fields renames credential fields for this target (api_key →
	// EMAILIT_API_KEY).
	Fields map[string]string
	// Section holds the sink-specific options; its Type is the sink's type.
	Section Section
}

// Defaults of the `defaults:` section.
const (
	DefaultListen             = "127.0.0.1:9102"
	DefaultStatePath          = "./rotator-state.db"
	DefaultSchedule           = "@every 720h"
	DefaultGrace              = 24 * time.Hour
	DefaultKeepAlive          = 168 * time.Hour
	DefaultTimeout            = 2 * time.Minute
	DefaultNamePrefix         = "rotator-"
	DefaultMaxConcurrent      = 4
	DefaultShutdownTimeout    = 30 * time.Second
	DefaultOrphanScanInterval = 6 * time.Hour
)

// raw mirrors the file. Providers and sinks stay YAML nodes; their backend
// decodes them.
type raw struct {
	Listen             string    `yaml:"listen"`
	State              rawState  `yaml:"state"`
	MaxConcurrent      *int      `yaml:"max_concurrent"`
	ShutdownTimeout    *Duration `yaml:"shutdown_timeout"`
	OrphanScanInterval *Duration `yaml:"orphan_scan_interval"`
	Defaults           rawPolicy `yaml:"defaults"`
	Providers          yaml.Node `yaml:"providers"`
	Sinks              yaml.Node `yaml:"sinks"`
	Hooks              yaml.Node `yaml:"hooks"`
	Keys               []rawKey  `yaml:"keys"`

	// Control is how operators reach the daemon (control.go).
	Control rawControl `yaml:"control"`
}

type rawPolicy struct {
	Schedule      *string   `yaml:"schedule"`
	Grace         *Duration `yaml:"grace"`
	KeepAlive     *Duration `yaml:"keepalive"`
	Jitter        *Duration `yaml:"jitter"`
	Timeout       *Duration `yaml:"timeout"`
	NamePrefix    *string   `yaml:"name_prefix"`
	PruneOrphans  *bool     `yaml:"prune_orphans"`
	rawRevocation `yaml:",inline"`
}

type rawKey struct {
	Name      string            `yaml:"name"`
	Provider  string            `yaml:"provider"`
	Params    map[string]string `yaml:"params"`
	Paused    bool              `yaml:"paused"`
	rawPolicy `yaml:",inline"`
	Sinks     []yaml.Node  `yaml:"sinks"`
	Hooks     []rawHookRef `yaml:"hooks"`
}

var (
	keyNameRE     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)
	backendNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	prefixRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
)

// ErrEmpty is returned for a file with no YAML document.
var ErrEmpty = errors.New("config file is empty")

// MaxConfigFile bounds the policy file: 10,000 keys take about 2 MiB, and
// --config /dev/zero must not exhaust memory. (A pipe, such as a shell's
// process substitution, is read.)
const MaxConfigFile = 32 << 20

// LoadFile reads and validates the policy at path.
func LoadFile(path string) (*Config, error) { return LoadFileWith(path, LoadOptions{}) }

// LoadOptions change how a policy is loaded.
type LoadOptions struct {
	// Offline makes a secret file that does not exist (password_file,
	// token_file, dsn_file, ...) a warning rather than an error, and its
	// value OfflineSecret: `rotator check --offline` validates a
	// production policy where its secrets are not.
	Offline bool
}

// OfflineSecret is the value of a missing secret file loaded with
// LoadOptions.Offline; it is never used against a provider or a store.
const OfflineSecret Secret = "rotator-offline-placeholder"

// LoadFileWith is LoadFile with options.
func LoadFileWith(path string, o LoadOptions) (*Config, error) {
	b, err := readBounded(path, MaxConfigFile)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return load(bytes.NewReader(b), filepath.Dir(abs), o)
}

// Load reads and validates a policy; baseDir resolves relative paths.
func Load(r io.Reader, baseDir string) (*Config, error) { return load(r, baseDir, LoadOptions{}) }

func load(r io.Reader, baseDir string, o LoadOptions) (*Config, error) {
	src, err := io.ReadAll(io.LimitReader(r, MaxConfigFile+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(src) > MaxConfigFile {
		return nil, fmt.Errorf("read config: larger than %d MiB", MaxConfigFile>>20)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrEmpty
		}
		return nil, fmt.Errorf("parse config: %w", syntaxError(err, src))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("parse config: the file holds more than one YAML document")
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		if len(doc.Content) == 1 && doc.Content[0].Tag == "!!null" {
			return nil, ErrEmpty
		}
		return nil, fmt.Errorf("parse config (line %d): the top level must be a mapping", doc.Line)
	}
	root := doc.Content[0]
	if err := checkDuplicates(root); err != nil {
		return nil, err
	}
	if err := expandEnv(root, ""); err != nil {
		return nil, err
	}
	var rc raw
	if err := checkKnown(root, reflect.TypeOf(rc), "", nil); err != nil {
		return nil, err
	}
	if err := root.Decode(&rc); err != nil {
		return nil, fmt.Errorf("parse config: %w", cleanYAMLError(err))
	}
	return build(&rc, root, baseDir, o)
}

func build(rc *raw, root *yaml.Node, baseDir string, o LoadOptions) (*Config, error) {
	top := Section{Node: root, BaseDir: baseDir}
	c := &Config{
		Listen:             rc.Listen,
		StatePath:          rc.State.Path,
		MaxConcurrent:      DefaultMaxConcurrent,
		ShutdownTimeout:    DefaultShutdownTimeout,
		OrphanScanInterval: DefaultOrphanScanInterval,
		BaseDir:            baseDir,
		Warnings:           &Warnings{offline: o.Offline},
	}
	errs := c.applyTop(rc, top)

	var err error
	if c.State, err = buildState(rc.State, root, baseDir, c.Warnings); c.State.Backend == BackendPostgres {
		c.StatePath = ""
	}
	errs = append(errs, err)
	c.ControlToken, err = controlToken(rc.Control, root, baseDir, c.Warnings)
	errs = append(errs, err)
	c.ControlListen, err = controlListen(rc.Control, root)
	errs = append(errs, err)
	c.ControlSocket, err = controlSocket(rc.Control, c.State.Backend, top)
	errs = append(errs, err)
	c.Providers, err = backends(rc.Providers, "providers", baseDir)
	errs = append(errs, err)
	c.Sinks, err = backends(rc.Sinks, "sinks", baseDir)
	errs = append(errs, err)
	c.Hooks, err = buildHooks(rc.Hooks, baseDir, c.Warnings)
	errs = append(errs, err)

	defaults := policy{
		schedule: DefaultSchedule, grace: DefaultGrace, keepalive: DefaultKeepAlive,
		timeout: DefaultTimeout, prefix: DefaultNamePrefix, revocation: defaultRevocation(),
	}
	defSec := Section{Path: "defaults", Node: childNode(root, "defaults")}
	if err := defaults.apply(rc.Defaults, defSec); err != nil {
		errs = append(errs, err)
	}

	providerType := map[string]string{}
	for _, p := range c.Providers {
		providerType[p.Path[len("providers."):]] = p.Type
	}
	sinkType := map[string]string{}
	for _, s := range c.Sinks {
		sinkType[s.Path[len("sinks."):]] = s.Type
	}

	keysNode := childNode(root, "keys")
	if len(rc.Keys) == 0 {
		errs = append(errs, top.Errorf("keys", "at least one key must be configured"))
	}
	errs = append(errs, c.buildKeys(rc, keysNode, defaults, providerType, sinkType, baseDir)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c.shareWarnings()
	c.warnSchedules(keysNode, childNode(root, "defaults"))
	return c, nil
}

// applyTop applies the top-level settings of rc to c.
func (c *Config) applyTop(rc *raw, top Section) []error {
	var errs []error
	if c.Listen == "" {
		c.Listen = DefaultListen
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, top.Errorf("listen", "%q is not host:port", c.Listen))
	}
	if c.StatePath == "" {
		c.StatePath = DefaultStatePath
	}
	c.StatePath = top.Resolve(c.StatePath)
	if rc.MaxConcurrent != nil {
		if *rc.MaxConcurrent < 1 {
			errs = append(errs, top.Errorf("max_concurrent", "must be at least 1, got %d", *rc.MaxConcurrent))
		}
		c.MaxConcurrent = *rc.MaxConcurrent
	}
	if rc.ShutdownTimeout != nil {
		if rc.ShutdownTimeout.D() <= 0 {
			errs = append(errs, top.Errorf("shutdown_timeout", "must be positive"))
		}
		c.ShutdownTimeout = rc.ShutdownTimeout.D()
	}
	if rc.OrphanScanInterval != nil {
		if rc.OrphanScanInterval.D() < time.Minute {
			errs = append(errs, top.Errorf("orphan_scan_interval", "must be at least 1m, got %s", rc.OrphanScanInterval.D()))
		}
		c.OrphanScanInterval = rc.OrphanScanInterval.D()
	}
	return errs
}

// shareWarnings makes every backend section report to c.Warnings.
func (c *Config) shareWarnings() {
	for _, secs := range [][]Section{c.Providers, c.Sinks} {
		for i := range secs {
			secs[i].Warnings = c.Warnings
		}
	}
	for i := range c.Keys {
		for j := range c.Keys[i].Targets {
			c.Keys[i].Targets[j].Section.Warnings = c.Warnings
		}
	}
}

// backends turns a providers: or sinks: mapping into Sections in file order.
func backends(n yaml.Node, what, baseDir string) ([]Section, error) {
	if n.Kind == 0 || n.Tag == "!!null" {
		return nil, &FieldError{Path: what, Err: fmt.Errorf("at least one entry must be configured")}
	}
	if n.Kind != yaml.MappingNode {
		return nil, &FieldError{Path: what, Line: n.Line, Err: errors.New("must be a mapping of name: {type: ..., ...}")}
	}
	var out []Section
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		sec, err := namedSection(&n, i, what, baseDir, "{type: file, dir: /out}")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var head struct {
			Type string `yaml:"type"`
		}
		_ = sec.Node.Decode(&head)
		if head.Type == "" {
			errs = append(errs, sec.Errorf("type", "is required"))
			continue
		}
		sec.Type = head.Type
		out = append(out, sec)
	}
	return out, errors.Join(errs...)
}

// namedSection is the section of the entry at n.Content[i] (its name) and
// n.Content[i+1] (its body) of a name: {type: ..., ...} mapping (providers:,
// sinks:, hooks:) at path what. The error is a *FieldError when the name is
// not letters, digits, _, . or -, or the body not a mapping (example shows
// one).
func namedSection(n *yaml.Node, i int, what, baseDir, example string) (Section, error) {
	name, body := n.Content[i].Value, n.Content[i+1]
	sec := Section{Path: what + "." + name, Node: body, BaseDir: baseDir}
	if !backendNameRE.MatchString(name) {
		return Section{}, &FieldError{Path: sec.Path, Line: n.Content[i].Line, Err: fmt.Errorf("name %q must be letters, digits, _, . or -", name)}
	}
	if body.Kind != yaml.MappingNode {
		return Section{}, &FieldError{Path: sec.Path, Line: body.Line, Err: errors.New("must be a mapping with a type, such as " + example)}
	}
	return sec, nil
}

func childNode(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
