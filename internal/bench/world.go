package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/emailit/emailittest"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/wire"
)

// world is one benchmark set-up: a provider test server, a folder holding
// the policy, the state file and the file sink's output, and the engine
// wired from that policy exactly as cmd/rotator wires it.
type world struct {
	dir      string
	cfgPath  string
	provider string // "smtpd" or "emailit"
	smtpd    *smtpdtest.Server
	emailit  *emailittest.Server
	cfg      *config.Config
	// wired is set once cfg was passed to wire.Build, which drops its YAML
	// nodes: the next engine needs the policy loaded again.
	wired bool
	// onIdle becomes the engine's Options.OnIdle.
	onIdle func()
	// dsn and schema: the state is in PostgreSQL (worldOptions.DSN).
	dsn, schema string
}

// worldOptions shape the generated policy.
type worldOptions struct {
	Provider      string // smtpd or emailit
	Keys          int
	MaxConcurrent int
	// RateLimit is the client's rate_limit (requests/s); 0 leaves the
	// provider's default.
	RateLimit float64
	// ServerRateLimit is emailittest's window (0 = none; smtpdtest has none
	// unless set).
	ServerRateLimit float64
	Latency         time.Duration
	Schedule        string // default "@every 720h"
	Grace           string // default "0s"
	KeepAlive       string // default "168h"
	Listen          string
	// DSN puts the state in a fresh schema of this PostgreSQL cluster
	// (state.backend postgres) instead of a bbolt file.
	DSN string
}

func newWorld(o worldOptions) (*world, error) {
	dir, err := os.MkdirTemp("", "rotator-bench-")
	if err != nil {
		return nil, err
	}
	w := &world{dir: dir, provider: o.Provider}
	var provider, params, secretFile, secret string
	switch o.Provider {
	case "smtpd":
		w.smtpd = smtpdtest.New(smtpdtest.Config{Latency: o.Latency, RateLimit: o.ServerRateLimit})
		secretFile, secret = "smtpd-password", w.smtpd.Password()
		provider = fmt.Sprintf("{type: smtpd, base_url: %q, username: %q, password_file: ./%s%s}",
			w.smtpd.URL(), w.smtpd.Username(), secretFile, rateField(o.RateLimit))
		params = "{role: send_only}"
	case "emailit":
		rl := float64(emailittest.NoRateLimit)
		if o.ServerRateLimit > 0 {
			rl = o.ServerRateLimit
		}
		w.emailit = emailittest.New(emailittest.Config{Latency: o.Latency, RateLimit: rl})
		secretFile, secret = "emailit-key", w.emailit.ManagementKey()
		provider = fmt.Sprintf("{type: emailit, base_url: %q, api_key_file: ./%s%s}",
			w.emailit.URL(), secretFile, rateField(o.RateLimit))
		params = "{scope: sending}"
	default:
		return nil, fmt.Errorf("provider %q: want smtpd or emailit", o.Provider)
	}
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	var b strings.Builder
	stateSection := "state:\n  path: ./state.db\n"
	if o.DSN != "" {
		w.dsn, w.schema = o.DSN, benchSchema()
		stateSection = fmt.Sprintf("state: {backend: postgres, dsn: %q, schema: %s}\n", o.DSN, w.schema)
	}
	fmt.Fprintf(&b, "listen: %q\n%smax_concurrent: %d\n", def(o.Listen, "127.0.0.1:0"), stateSection, o.MaxConcurrent)
	fmt.Fprintf(&b, "defaults:\n  schedule: %q\n  grace: %s\n  keepalive: %s\n  timeout: 2m\n",
		def(o.Schedule, "@every 720h"), def(o.Grace, "0s"), def(o.KeepAlive, "168h"))
	fmt.Fprintf(&b, "providers:\n  p: %s\nsinks:\n  out: {type: file, dir: ./out}\nkeys:\n", provider)
	for i := 0; i < o.Keys; i++ {
		name := keyName(i)
		fmt.Fprintf(&b, "  - {name: %s, provider: p, params: %s, sinks: [{sink: out, path: %s.env, format: env}]}\n", name, params, name)
	}
	w.cfgPath = filepath.Join(dir, "rotator.yaml")
	if err := os.WriteFile(w.cfgPath, []byte(b.String()), 0o600); err != nil {
		w.close()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, secretFile), []byte(secret+"\n"), 0o600); err != nil {
		w.close()
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o700); err != nil {
		w.close()
		return nil, err
	}
	if w.cfg, err = config.LoadFile(w.cfgPath); err != nil {
		w.close()
		return nil, fmt.Errorf("load generated policy: %w", err)
	}
	return w, nil
}

func rateField(r float64) string {
	if r == 0 {
		return ""
	}
	return fmt.Sprintf(", rate_limit: %g", r)
}

func keyName(i int) string { return fmt.Sprintf("k%05d", i) }

func (w *world) setLatency(d time.Duration) {
	if w.smtpd != nil {
		w.smtpd.SetLatency(d)
	}
	if w.emailit != nil {
		w.emailit.SetLatency(d)
	}
}

// requests is the number of requests the server received, per operation.
func (w *world) requests() map[string]int {
	if w.smtpd != nil {
		return w.smtpd.Requests()
	}
	return w.emailit.Requests()
}

func (w *world) statePath() string { return filepath.Join(w.dir, "state.db") }

func (w *world) close() {
	if w.smtpd != nil {
		w.smtpd.Close()
	}
	if w.emailit != nil {
		w.emailit.Close()
	}
	os.RemoveAll(w.dir)
	if w.dsn != "" {
		dropSchema(w.dsn, w.schema)
	}
}

// engine is a wired engine on the world's state file.
type engine struct {
	*rotate.Engine
	built *wire.Built
	store *state.Store
}

func (e *engine) close() { e.store.Close() }

// benchLogger is what the daemon logs at info level, in JSON, thrown away:
// the cost of logging is part of the cost of a rotation.
func benchLogger() *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zap.InfoLevel))
}

// newEngine wires the policy as cmd/rotator does.
func (w *world) newEngine() (*engine, error) { return w.newEngineWith(nil) }

// newEngineWith wires the policy with every provider passed through wrap,
// over the world's state file.
func (w *world) newEngineWith(wrap func(providers.Provider) providers.Provider) (*engine, error) {
	store, err := state.Open(w.cfg.StatePath, state.Options{})
	if err != nil {
		return nil, err
	}
	e, err := w.wireEngine(store, nil, wrap)
	if err != nil {
		store.Close()
		return nil, err
	}
	e.store = store
	return e, nil
}

// wireEngine wires the policy as cmd/rotator does, over store (also the
// engine's Leadership when it is a leader's fenced store), with events as
// the audit trail (nil: none) and every provider passed through wrap
// (nil: as built). The caller closes the store.
func (w *world) wireEngine(store rotate.Store, events rotate.EventLog, wrap func(providers.Provider) providers.Provider) (*engine, error) {
	log := benchLogger()
	clock := clockwork.NewRealClock()
	metrics := rotate.NewMetrics(prometheus.NewRegistry())
	if w.wired {
		cfg, err := config.LoadFile(w.cfgPath)
		if err != nil {
			return nil, fmt.Errorf("load the policy again: %w", err)
		}
		w.cfg = cfg
	}
	w.wired = true
	built, err := wire.Build(w.cfg, wire.Deps{Logger: log, Clock: clock, UserAgent: "rotator-bench", Observer: metrics})
	if err != nil {
		return nil, err
	}
	if wrap != nil {
		for name, p := range built.Providers {
			built.Providers[name] = wrap(p)
		}
		for _, k := range built.Keys {
			k.Provider = wrap(k.Provider)
		}
	}
	lead, _ := store.(rotate.Leadership)
	e, err := rotate.New(rotate.Options{Keys: built.Keys, Providers: built.Providers, Sinks: built.Sinks, Store: store, Events: events,
		Leadership: lead, Logger: log, Metrics: metrics, Clock: clock, MaxConcurrent: w.cfg.MaxConcurrent,
		ShutdownTimeout: w.cfg.ShutdownTimeout, OrphanScanInterval: w.cfg.OrphanScanInterval, OnIdle: w.onIdle})
	if err != nil {
		return nil, err
	}
	return &engine{Engine: e, built: built}, nil
}
