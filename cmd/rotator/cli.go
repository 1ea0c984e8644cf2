package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
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
	"github.com/rotator-dev/rotator/internal/wire"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // a rotation, revocation or keep-alive failed, or the daemon could not start
	exitConfig = 2 // configuration or usage error
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type options struct {
	config      string
	runNow      bool
	keys        stringList
	dueOnly     bool
	dryRun      bool
	checkConfig bool
	status      bool
	version     bool
	demo        bool
	listen      string
	logLevel    string
	logFormat   string
}

// cli runs one invocation with injected streams, so that tests drive it.
type cli struct {
	stdout, stderr io.Writer
	// clock is real unless a test sets it.
	clock clockwork.Clock
	// onListen is told the daemon's address (tests use port 0).
	onListen func(addr string)
	// signals overrides the OS signal context (tests).
	ctx context.Context
}

func newCLI(stdout, stderr io.Writer) *cli {
	return &cli{stdout: stdout, stderr: stderr, clock: clockwork.NewRealClock()}
}

func (c *cli) parse(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("rotator", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.StringVar(&o.config, "config", "", "policy file (YAML)")
	fs.BoolVar(&o.runNow, "run-now", false, "make one pass now (revocations due, rotate the selected keys, keep-alive), then exit")
	fs.Var(&o.keys, "key", "with --run-now: rotate only this key (repeatable)")
	fs.BoolVar(&o.dueOnly, "due-only", false, "with --run-now: rotate only keys whose schedule is due (for timers and CronJobs)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the plan and make no change at any provider or sink")
	fs.BoolVar(&o.checkConfig, "check-config", false, "validate the configuration and exit")
	fs.BoolVar(&o.status, "status", false, "print every key's state and exit")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.demo, "demo", false, "run against built-in test servers for smtpd.dev and Emailit and a temporary file sink")
	fs.StringVar(&o.listen, "listen", "", "address of /metrics, /healthz, /readyz (overrides the config's listen)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "", "json or console (default: console on a terminal, else json)")
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage:\n  rotator --config FILE [--dry-run]\n  rotator --config FILE --run-now [--key NAME]... [--due-only] [--dry-run]\n  rotator --config FILE --check-config | --status\n  rotator --demo\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.version || o.demo:
	case o.config == "":
		return nil, errors.New("--config is required (or try --demo)")
	}
	if len(o.keys) > 0 && !o.runNow && !o.dryRun {
		return nil, errors.New("--key needs --run-now")
	}
	if o.dueOnly && !o.runNow {
		return nil, errors.New("--due-only needs --run-now")
	}
	if o.logFormat != "" && o.logFormat != "json" && o.logFormat != "console" {
		return nil, fmt.Errorf("--log-format %q: want json or console", o.logFormat)
	}
	if o.listen != "" {
		if _, _, err := net.SplitHostPort(o.listen); err != nil {
			return nil, fmt.Errorf("--listen %q is not host:port", o.listen)
		}
	}
	return o, nil
}

func (c *cli) run(args []string) int {
	if os.Getenv("GOGC") == "" {
		// The daemon is idle almost all the time: a smaller heap headroom
		// than Go's default (100%) costs a little GC work during a burst and
		// saves ~45% of resident memory at 10,000 keys
		// (docs/performance.md). GOGC in the environment still wins.
		debug.SetGCPercent(25)
	}
	o, err := c.parse(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(c.stderr, "rotator: %v\n", err)
		return exitConfig
	}
	if o.version {
		fmt.Fprintf(c.stdout, "rotator %s (revision %s, %s)\n", buildVersion(), buildRevision(), promversion.GoVersion)
		return exitOK
	}
	logger, err := newLogger(o.logLevel, o.logFormat, c.stderr, o.demo)
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: %v\n", err)
		return exitConfig
	}
	defer logger.Sync() //nolint:errcheck

	ctx := c.ctx
	if ctx == nil {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
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
	}

	if o.demo {
		d, err := startDemo(logger, o)
		if err != nil {
			logger.Error("demo could not start", zap.Error(err))
			return exitFailed
		}
		defer d.close()
		o.config = d.configPath
	}

	cfg, err := config.LoadFile(o.config)
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: %s: %v\n", o.config, err)
		return exitConfig
	}
	if o.listen != "" {
		cfg.Listen = o.listen
	}
	reg := prometheus.NewRegistry()
	metrics := rotate.NewMetrics(reg)
	built, err := wire.Build(cfg, wire.Deps{Logger: logger, Clock: c.clock, UserAgent: "rotator/" + buildVersion(), Observer: metrics})
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: %s: %v\n", o.config, err)
		return exitConfig
	}
	if o.checkConfig {
		fmt.Fprintf(c.stdout, "%s: OK (%d keys, %d providers, %d sinks)\n", o.config, len(cfg.Keys), len(cfg.Providers), len(cfg.Sinks))
		return exitOK
	}
	if o.status {
		return c.printStatus(cfg)
	}

	// From here on each key's policy lives in the engine: the loaded copy
	// would double the policy's memory (10,000 keys: ~2.5 MiB).
	cfg.Keys = nil

	store, err := openState(cfg.StatePath, o.dryRun)
	if err != nil {
		logger.Error("cannot open the state file", zap.Error(err))
		return exitFailed
	}
	defer store.Close()

	promversion.Version, promversion.Revision = buildVersion(), buildRevision()
	reg.MustRegister(versioncollector.NewCollector("rotator"), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	th := testHooks(logger)
	engine, err := rotate.New(rotate.Options{
		Keys: built.Keys, Providers: built.Providers, Sinks: built.Sinks, Store: store, Logger: logger,
		Metrics: metrics, Clock: c.clock, MaxConcurrent: cfg.MaxConcurrent, ShutdownTimeout: cfg.ShutdownTimeout,
		OrphanScanInterval: cfg.OrphanScanInterval, Failpoint: th.failpoint, RetryBase: th.retryBase, RetryMax: th.retryMax,
		// When the engine goes idle the heap's free pages go back to the
		// operating system at once: Go's background scavenger returns them
		// a little at a time, waking the idle daemon about ten times a
		// second for minutes after start-up or a burst (docs/performance.md).
		OnIdle: debug.FreeOSMemory,
	})
	if err != nil {
		logger.Error("cannot start the engine", zap.Error(err))
		return exitFailed
	}
	defer closeSinks(built, logger)

	if o.dryRun {
		if err := engine.Plan(c.stdout, rotate.Once{Keys: o.keys, DueOnly: o.dueOnly}, !o.runNow); err != nil {
			fmt.Fprintf(c.stderr, "rotator: %v\n", err)
			return exitConfig
		}
		return exitOK
	}
	if o.runNow {
		return c.runNow(ctx, engine, logger, o)
	}
	return c.daemon(ctx, cfg, engine, store, reg, metrics, logger, o.demo)
}

func (c *cli) runNow(ctx context.Context, engine *rotate.Engine, logger *zap.Logger, o *options) int {
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
		logger.Error("run finished with failures", zap.Error(err))
		return exitFailed
	}
	return exitOK
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
