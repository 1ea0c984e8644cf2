package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	promversion "github.com/prometheus/common/version"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/state/pgstore"
	"github.com/rotator-dev/rotator/internal/wire"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // a rotation, revocation or keep-alive failed, or the daemon could not start
	exitConfig = 2 // configuration or usage error
)

// cli runs one invocation with injected streams, so that tests drive it.
type cli struct {
	stdout, stderr io.Writer
	// clock is real unless a test sets it.
	clock clockwork.Clock
	// onListen is told the daemon's address (tests use port 0).
	onListen func(addr string)
	// ctx, when a test sets it, is used instead of the context that
	// SIGINT and SIGTERM cancel.
	ctx context.Context
}

func newCLI(stdout, stderr io.Writer) *cli {
	return &cli{stdout: stdout, stderr: stderr, clock: clockwork.NewRealClock()}
}

func (c *cli) run(args []string) int {
	if len(args) >= 2 && args[0] == "state" && args[1] == "rebuild" {
		return c.stateRebuild(args[2:])
	}
	if len(args) >= 2 && args[0] == "state" && (args[1] == "export" || args[1] == "import") {
		return c.statePort(args[1], args[2:])
	}
	o, err := c.parse(args)
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: %v\n", err)
		return exitConfig
	}
	switch o.cmd {
	case "help":
		return c.help(o)
	case "version":
		fmt.Fprintf(c.stdout, "rotator %s (revision %s, %s)\n", buildVersion(), buildRevision(), promversion.GoVersion)
		return exitOK
	case "state":
		fmt.Fprintln(c.stderr, "rotator: state needs a subcommand: rotator state rebuild|export|import --config FILE")
		return exitConfig
	}
	logger, err := newLogger(o.logLevel, o.logFormat, c.stderr, o.demo)
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: %v\n", err)
		return exitConfig
	}
	defer logger.Sync() //nolint:errcheck
	ctx := c.signalContext(logger)
	switch o.cmd {
	case "rotate", "revoke", "retire", "pause", "resume", "reload", "status", "history":
		return c.operate(ctx, logger, o)
	case "preflight":
		return c.preflight(ctx, logger, o)
	}
	return c.start(ctx, logger, o)
}

// help is `rotator help [CMD]` and --help: on stdout.
func (c *cli) help(o *options) int {
	if len(o.args) == 0 {
		writeHelp(c.stdout)
		return exitOK
	}
	cmd := lookupCommand(o.args[0])
	if cmd == nil {
		fmt.Fprintf(c.stderr, "rotator: no command %q (rotator --help lists them)\n", o.args[0])
		return exitConfig
	}
	writeCommandHelp(c.stdout, cmd)
	return exitOK
}

// signalContext ends at SIGINT or SIGTERM; a second signal exits at once.
func (c *cli) signalContext(logger *zap.Logger) context.Context {
	if c.ctx != nil {
		return c.ctx
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		<-again
		logger.Warn("second signal: exiting at once; work in flight resumes at the next start")
		_ = logger.Sync()
		os.Exit(exitFailed)
	}()
	return ctx
}

// loadPolicy loads and wires the policy; an error is printed (exit 2).
func (c *cli) loadPolicy(o *options, logger *zap.Logger, metrics *rotate.Metrics) (*config.Config, *wire.Built, bool) {
	cfg, err := config.LoadFileWith(o.config, config.LoadOptions{Offline: o.offline})
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: %s: %v\n", o.config, err)
		return nil, nil, false
	}
	if o.listen != "" {
		cfg.Listen = o.listen
	}
	built, err := wire.Build(cfg, wire.Deps{Logger: logger, Clock: c.clock, UserAgent: "rotator/" + buildVersion(), Observer: metrics})
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: %s: %v\n", o.config, err)
		return nil, nil, false
	}
	return cfg, built, true
}

// newEngine builds the engine over the store, with the audit trail.
func (c *cli) newEngine(cfg *config.Config, built *wire.Built, store engineStore, metrics *rotate.Metrics, logger *zap.Logger) (*rotate.Engine, error) {
	th := testHooks(logger)
	return rotate.New(rotate.Options{
		Keys: built.Keys, Providers: built.Providers, Sinks: built.Sinks, Store: store, Logger: logger, Events: store, Leadership: leadershipOf(store),
		Metrics: metrics, Clock: c.clock, MaxConcurrent: cfg.MaxConcurrent, ShutdownTimeout: cfg.ShutdownTimeout,
		OrphanScanInterval: cfg.OrphanScanInterval, Failpoint: th.failpoint, RetryBase: th.retryBase, RetryMax: th.retryMax,
		OnIdle:   onIdle(store, logger),
		Notifier: built.Hooks,
	})
}

// start is run, run-now, plan, check and demo.
func (c *cli) start(ctx context.Context, logger *zap.Logger, o *options) int {
	if o.demo {
		d, err := startDemo(logger, o)
		if err != nil {
			logger.Error("demo could not start", zap.Error(err))
			return exitFailed
		}
		defer d.close()
		o.config = d.configPath
	}
	reg := prometheus.NewRegistry()
	metrics := rotate.NewMetrics(reg)
	cfg, built, ok := c.loadPolicy(o, logger, metrics)
	if !ok {
		return exitConfig
	}
	if o.cmd == "check" {
		for _, w := range built.Warnings {
			fmt.Fprintf(c.stdout, "warning: %s\n", w)
		}
		fmt.Fprintf(c.stdout, "%s: OK (%d keys, %d providers, %d sinks)\n", o.config, len(cfg.Keys), len(cfg.Providers), len(cfg.Sinks))
		return exitOK
	}
	if err := checkKeyFlags(o.cmd, o.keys, cfg.Keys); err != nil {
		fmt.Fprintf(c.stderr, "rotator: %v\n", err)
		return exitConfig
	}
	// From here on the policy lives in what wire built: keep the settings
	// only, so that the loaded policy and its YAML become garbage.
	cfg = cfg.Settings()

	store, err := openBackend(ctx, cfg, o.cmd == "plan")
	if err != nil {
		logger.Error("cannot open the state file", zap.Error(err))
		return exitFailed
	}
	defer store.Close()

	promversion.Version, promversion.Revision = buildVersion(), buildRevision()
	reg.MustRegister(versioncollector.NewCollector("rotator"), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	engine, err := c.newEngine(cfg, built, asFollower(store), metrics, logger)
	if err != nil {
		logger.Error("cannot start the engine", zap.Error(err))
		return exitFailed
	}
	defer closeSinks(built, logger)
	reg.MustRegister(built.Hooks)
	built.Hooks.Start(engine.HookSucceeded)
	defer built.Hooks.Close()
	if pg, ok := store.(*pgstore.Store); ok && o.cmd != "plan" { // replicas: act only under the lease
		return c.replica(ctx, pg, daemonParts{cfg: cfg, engine: engine, store: store, reg: reg, metrics: metrics, logger: logger, o: o, built: built}, built)
	}

	switch o.cmd {
	case "plan":
		if err := engine.Plan(c.stdout, rotate.Once{Keys: o.keys, DueOnly: o.dueOnly}, !o.runNow); err != nil {
			fmt.Fprintf(c.stderr, "rotator: %v\n", err)
			return exitConfig
		}
		return exitOK
	case "run-now":
		return c.runNow(ctx, engine, logger, o)
	}
	return c.daemon(ctx, daemonParts{cfg: cfg, engine: engine, store: store, reg: reg, metrics: metrics, logger: logger, o: o, hooks: built.Hooks, built: built})
}

func (c *cli) runNow(ctx context.Context, engine *rotate.Engine, logger *zap.Logger, o *options) int {
	if len(o.keys) == 0 && !o.dueOnly {
		fmt.Fprintf(c.stdout, "run-now: rotating all %d keys regardless of their schedule (--key or --due-only to narrow)\n", engine.Len())
	}
	if err := engine.Check(ctx); err != nil {
		logger.Error("start-up checks failed", zap.Error(err))
		return exitFailed
	}
	results, err := engine.RunOnce(ctx, rotate.Once{Keys: o.keys, DueOnly: o.dueOnly})
	for _, r := range results {
		status := "ok"
		if r.Err != nil {
			status = "FAILED: " + r.Err.Error()
		}
		var did []string
		if r.Rotated {
			did = append(did, "rotated ("+string(r.Reason)+")")
		}
		if r.Revoked > 0 {
			did = append(did, fmt.Sprintf("revoked %d", r.Revoked))
		}
		if r.KeptAlive {
			did = append(did, "kept alive")
		}
		switch {
		case len(did) > 0:
			status = strings.Join(did, ", ") + "; " + status
		case r.Err == nil:
			status = "nothing to do; ok"
		}
		fmt.Fprintf(c.stdout, "%-24s %s\n", r.Key, status)
	}
	if err != nil {
		logger.Error("run finished with failures", runFailures(results, err)...)
		return exitFailed
	}
	return exitOK
}

// runFailures are the fields of run-now's closing line: the keys that
// failed, whose errors their own lines (and the summary) already gave,
// and only the errors no key line logged (an orphan scan's), so that each
// failure is logged once.
func runFailures(results []rotate.KeyResult, err error) []zap.Field {
	var failed []string
	var keyErrs []error
	for _, r := range results {
		if r.Err != nil {
			failed = append(failed, r.Key)
			keyErrs = append(keyErrs, r.Err)
		}
	}
	errs := []error{err}
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		errs = u.Unwrap()
	}
	var other []error
	for _, e := range errs {
		if !slices.ContainsFunc(keyErrs, func(k error) bool { return errors.Is(e, k) }) {
			other = append(other, e)
		}
	}
	fields := []zap.Field{zap.Strings("failed_keys", failed)}
	if len(other) > 0 {
		fields = append(fields, zap.Error(errors.Join(other...)))
	}
	return fields
}

func closeSinks(b *wire.Built, logger *zap.Logger) {
	for name, s := range b.Sinks {
		if cl, ok := s.(interface{ Close() error }); ok {
			if err := cl.Close(); err != nil {
				logger.Warn("closing sink", zap.String("sink", name), zap.Error(err))
			}
		}
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func buildRevision() string {
	if revision != "" {
		return revision
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// openState opens the state file; a dry run opens it read-only (or, when
// there is none yet, an empty one in a temporary folder) so that it changes
// nothing on disk either.
func openState(path string, dryRun bool) (*state.Store, error) {
	if !dryRun {
		return state.Open(path, state.Options{})
	}
	if _, err := os.Stat(path); err == nil {
		return state.Open(path, state.Options{ReadOnly: true})
	}
	dir, err := os.MkdirTemp("", "rotator-dry-run-")
	if err != nil {
		return nil, err
	}
	st, err := state.Open(filepath.Join(dir, "state.db"), state.Options{})
	os.RemoveAll(dir) // the open file stays usable
	return st, err
}
