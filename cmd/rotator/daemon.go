package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	hookrun "github.com/rotator-dev/rotator/internal/hooks"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sdnotify"
	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/wire"
)

// daemonParts is what the daemon runs with.
type daemonParts struct {
	cfg     *config.Config
	engine  *rotate.Engine
	store   state.Backend
	reg     *prometheus.Registry
	metrics *rotate.Metrics
	logger  *zap.Logger
	o       *options
	// serve runs the engine; nil: engine.Serve. With replicas (leader.go)
	// it follows and runs an engine of its own while this one leads.
	serve func(context.Context) error
	// replica, with replicas, is how control requests reach the leader's
	// engine (replicactl.go); nil: p.engine acts.
	replica *replicaCtl
	// hooks is the running hooks runner; a reload gives it the new
	// policy's definitions (it keeps its queues).
	hooks *hookrun.Runner
	// built is the start-up policy's parts (its sinks are closed when a
	// reload replaces it).
	built *wire.Built
}

// listen opens the daemon's HTTP address; a busy port says how to choose
// another.
func listen(addr string, logger *zap.Logger) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		logger.Error("cannot listen: the address is in use; choose another with --listen ADDR or listen: in the policy",
			zap.String("listen", addr), zap.Error(err))
	case err != nil:
		logger.Error("cannot listen", zap.String("listen", addr), zap.Error(err))
	}
	return ln, err
}

// daemon serves /metrics, /healthz, /readyz and /status, runs the start-up
// checks, tells systemd it is ready, and runs the engine until ctx ends.
func (c *cli) daemon(ctx context.Context, p daemonParts) int {
	cfg, engine, store, metrics, logger := p.cfg, p.engine, p.store, p.metrics, p.logger
	ln, err := listen(cfg.Listen, logger)
	if err != nil {
		return exitFailed
	}
	if c.onListen != nil {
		c.onListen(ln.Addr().String())
	}
	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler(p.reg))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "starting: start-up checks have not passed yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("/status", requireOperator(cfg.ControlToken, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		records, err := store.All()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(engine.Status(records))
	})))
	srv, served := serveHTTP(ln, mux, defaultHTTPLimits)
	go func() {
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server stopped", zap.Error(err))
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	logger.Info("serving metrics", zap.String("listen", ln.Addr().String()))

	if err := engine.Check(ctx); err != nil {
		logger.Error("start-up checks failed", zap.Error(err))
		return exitFailed
	}
	ctl, err := c.startControl(ctx, p)
	if err != nil {
		logger.Error("cannot serve the control API", zap.Error(err))
		return exitFailed
	}
	defer ctl.stop(p.logger)
	ready.Store(true)
	if err := sdnotify.Ready(fmt.Sprintf("managing %d keys", engine.Len())); err != nil {
		logger.Warn("cannot notify systemd", zap.Error(err))
	}
	go func() {
		if err := sdnotify.Watchdog(ctx, c.clock, logger, nil); err != nil {
			logger.Warn("systemd watchdog disabled", zap.Error(err))
		}
	}()
	if p.o.demo {
		logger.Info("demo running: watch keys being created, written, revoked and kept alive; metrics at http://" + ln.Addr().String() + "/metrics; Ctrl-C stops")
	}
	serve := engine.Serve
	if p.serve != nil {
		serve = p.serve
	}
	err = serve(ctx)
	ctl.server.Drain()
	_ = sdnotify.Stopping()
	if err != nil {
		logger.Error("daemon stopped with an error", zap.Error(err))
		return exitFailed
	}
	return exitOK
}
