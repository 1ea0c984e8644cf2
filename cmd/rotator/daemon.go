package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sdnotify"
	"github.com/rotator-dev/rotator/internal/state"
)

// daemon serves /metrics, /healthz, /readyz and /status, runs the start-up
// checks, tells systemd it is ready, and runs the engine until ctx ends.
func (c *cli) daemon(ctx context.Context, cfg *config.Config, engine *rotate.Engine, store *state.Store,
	reg *prometheus.Registry, metrics *rotate.Metrics, logger *zap.Logger, demo bool) int {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		logger.Error("cannot listen", zap.String("listen", cfg.Listen), zap.Error(err))
		return exitFailed
	}
	if c.onListen != nil {
		c.onListen(ln.Addr().String())
	}
	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler(reg))
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
	ready.Store(true)
	if err := sdnotify.Ready(fmt.Sprintf("managing %d keys", engine.Len())); err != nil {
		logger.Warn("cannot notify systemd", zap.Error(err))
	}
	go func() {
		if err := sdnotify.Watchdog(ctx, c.clock, logger, nil); err != nil {
			logger.Warn("systemd watchdog disabled", zap.Error(err))
		}
	}()
	if demo {
		logger.Info("demo running: watch keys being created, written, revoked and kept alive; metrics at http://" + ln.Addr().String() + "/metrics; Ctrl-C stops")
	}
	err = engine.Serve(ctx)
	_ = sdnotify.Stopping()
	if err != nil {
		logger.Error("daemon stopped with an error", zap.Error(err))
		return exitFailed
	}
	return exitOK
}

// printStatus prints the state table. The daemon holds the state file's
// lock, so when it runs, its /status endpoint answers instead.
func (c *cli) printStatus(cfg *config.Config) int {
	now := c.clock.Now()
	store, err := state.Open(cfg.StatePath, state.Options{ReadOnly: true, LockTimeout: 200 * time.Millisecond})
	if err == nil {
		defer store.Close()
		records, err := store.All()
		if err != nil {
			fmt.Fprintf(c.stderr, "rotator: %v\n", err)
			return exitFailed
		}
		_ = rotate.WriteStatus(c.stdout, rotate.Status(cfg.Keys, records, now), now)
		return exitOK
	}
	if !errors.Is(err, state.ErrLocked) {
		fmt.Fprintf(c.stderr, "rotator: %v\n", err)
		return exitFailed
	}
	resp, herr := getStatus(cfg)
	if herr != nil {
		fmt.Fprintf(c.stderr, "rotator: %v; and the running daemon's /status at %s did not answer: %v\n", err, cfg.Listen, herr)
		return exitFailed
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		fmt.Fprintf(c.stderr, "rotator: %v; and the running daemon's /status at %s answered %s: %s\n", err, cfg.Listen, resp.Status, strings.TrimSpace(string(msg)))
		return exitFailed
	}
	var rows []rotate.StatusRow
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		fmt.Fprintf(c.stderr, "rotator: decode /status from %s: %v\n", cfg.Listen, err)
		return exitFailed
	}
	_ = rotate.WriteStatus(c.stdout, rows, now)
	return exitOK
}

// getStatus asks the running daemon's /status, with the control token
// when the policy sets one (on loopback none is needed).
func getStatus(cfg *config.Config) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, statusURL(cfg.Listen), nil)
	if err != nil {
		return nil, err
	}
	if cfg.ControlToken != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.ControlToken.Reveal())
	}
	return (&http.Client{Timeout: 5 * time.Second}).Do(req)
}
