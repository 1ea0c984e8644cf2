package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// State backends (state.backend).
const (
	BackendBbolt    = "bbolt"
	BackendPostgres = "postgres"
)

// Defaults of the postgres backend.
const (
	DefaultStateSchema = "rotator"
	DefaultMaxConns    = 4
	DefaultLeaseTTL    = 15 * time.Second
	// MinLeaseTTL keeps renewals (every third of the TTL) from hammering
	// the database.
	MinLeaseTTL = time.Second
)

// State is the `state:` section: where the daemon keeps its records.
type State struct {
	// Backend is BackendBbolt (one machine; the file is Config.StatePath)
	// or BackendPostgres (replicas sharing one database, one leader).
	Backend string
	// DSN is the postgres:// URL (state.dsn or state.dsn_file). It holds
	// the database password: it never prints.
	DSN Secret
	// Schema holds rotator's tables (postgres).
	Schema string
	// MaxConns bounds the connection pool (postgres).
	MaxConns int
	// LeaseTTL is how long the leadership lease holds without a renewal
	// (postgres): a follower takes over within LeaseTTL plus a third of it
	// after the leader dies.
	LeaseTTL time.Duration
}

var schemaRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// rawState mirrors the `state:` section.
type rawState struct {
	Backend  string    `yaml:"backend"`
	Path     string    `yaml:"path"`
	DSN      Secret    `yaml:"dsn"`
	DSNFile  string    `yaml:"dsn_file"`
	Schema   *string   `yaml:"schema"`
	MaxConns *int      `yaml:"max_conns"`
	LeaseTTL *Duration `yaml:"lease_ttl"`
}

// buildState validates the `state:` section. Errors name the YAML path and
// never include the DSN.
func buildState(rs rawState, root *yaml.Node, baseDir string, ws *Warnings) (State, error) {
	sec := Section{Path: "state", Node: childNode(root, "state"), BaseDir: baseDir, Warnings: ws}
	st := State{Backend: rs.Backend}
	switch rs.Backend {
	case "", BackendBbolt:
		st.Backend = BackendBbolt
		for _, f := range []string{"dsn", "dsn_file", "schema", "max_conns", "lease_ttl"} {
			if sec.Has(f) {
				return st, sec.Errorf(f, "is a setting of backend postgres; backend %s keeps its state in path", BackendBbolt)
			}
		}
		return st, nil
	case BackendPostgres:
	default:
		return st, sec.Errorf("backend", "%q: want %s (default, one machine) or %s (replicas)", rs.Backend, BackendBbolt, BackendPostgres)
	}
	if sec.Has("path") {
		return st, sec.Errorf("path", "backend %s keeps its state in the database (dsn), not in a file", BackendPostgres)
	}
	dsn, err := sec.Secret("dsn", rs.DSN, rs.DSNFile, true)
	if err != nil {
		return st, err
	}
	if err := checkDSN(dsn.Reveal()); err != nil && dsn != OfflineSecret {
		name := "dsn"
		if rs.DSNFile != "" {
			name = "dsn_file"
		}
		return st, sec.Field(name, err)
	}
	st.DSN, st.Schema, st.MaxConns, st.LeaseTTL = dsn, DefaultStateSchema, DefaultMaxConns, DefaultLeaseTTL
	if rs.Schema != nil {
		st.Schema = *rs.Schema
		if !schemaRE.MatchString(st.Schema) {
			return st, sec.Errorf("schema", "%q: use lowercase letters, digits and _ (not first a digit), up to 63", st.Schema)
		}
	}
	if rs.MaxConns != nil {
		if *rs.MaxConns < 2 || *rs.MaxConns > 100 {
			return st, sec.Errorf("max_conns", "must be between 2 and 100, got %d", *rs.MaxConns)
		}
		st.MaxConns = *rs.MaxConns
	}
	if rs.LeaseTTL != nil {
		if rs.LeaseTTL.D() < MinLeaseTTL {
			return st, sec.Errorf("lease_ttl", "must be at least %s, got %s", MinLeaseTTL, rs.LeaseTTL.D())
		}
		st.LeaseTTL = rs.LeaseTTL.D()
	}
	return st, nil
}

// checkDSN wants a postgres:// (or postgresql://) URL with a host. Its
// errors never quote the DSN, which may hold a password.
func checkDSN(dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return fmt.Errorf("is not a URL (want postgres://USER@HOST:5432/DB?sslmode=verify-full)")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("scheme %q: want postgres://USER@HOST:5432/DB?sslmode=verify-full", u.Scheme)
	}
	if u.Host == "" && !strings.Contains(u.RawQuery, "host=") {
		return fmt.Errorf("names no host: want postgres://USER@HOST:5432/DB?sslmode=verify-full")
	}
	return nil
}
