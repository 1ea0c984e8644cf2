package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/control"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/wire"
)

// controlRunner is the daemon's control API: the unix socket beside the
// state file, control.listen over HTTP, and SIGHUP.
type controlRunner struct {
	server  *control.Server
	servers []*http.Server
	hup     chan os.Signal
	reload  sync.Mutex // one reload at a time
	// reloaded is the policy of the last successful reload (nil before
	// one): the next reload and stop close its sinks, so that a reload
	// leaves no Vault token renewer of the policy it replaced running.
	reloaded *wire.Built
}

// startControl serves the control API until stop. Requests are refused
// once ctx ends (shutdown).
func (c *cli) startControl(ctx context.Context, p daemonParts) (*controlRunner, error) {
	r := &controlRunner{}
	op := &operator{engine: p.engine, store: p.store, clock: c.clock,
		status: func() ([]rotate.StatusRow, error) {
			records, err := p.store.All()
			return p.engine.Status(records), err
		},
		reload: func(ctx context.Context) (string, error) { return c.reloadPolicy(ctx, r, p) },
	}
	handler := op.do
	if p.replica != nil {
		handler = p.replica.handler(op)
	}
	r.server = control.NewServer(handler)
	if path := socketPath(p.cfg); path != "" {
		ln, err := control.ListenUnix(path)
		if err != nil {
			return nil, err
		}
		srv := r.server.UnixServer()
		r.servers = append(r.servers, srv)
		go func() { _ = srv.Serve(ln) }()
		p.logger.Info("serving the control socket", zap.String("socket", path))
	}
	if p.cfg.ControlListen != "" {
		ln, err := net.Listen("tcp", p.cfg.ControlListen)
		if err != nil {
			r.stop(p.logger)
			return nil, fmt.Errorf("control.listen %s: %w", p.cfg.ControlListen, err)
		}
		h := requireOperator(p.cfg.ControlToken, r.server.Handler(func(*http.Request) (string, error) { return "http:token", nil }))
		// Rotations take as long as providers and sinks do: no write
		// timeout beyond the rotation's own.
		lim := defaultHTTPLimits
		lim.write = 0
		srv, _ := serveHTTP(ln, h, lim)
		r.servers = append(r.servers, srv)
		p.logger.Info("serving the control API", zap.String("listen", ln.Addr().String()))
	}
	r.hup = make(chan os.Signal, 1)
	signal.Notify(r.hup, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-ctx.Done():
				r.server.Drain()
				return
			case _, ok := <-r.hup:
				if !ok {
					return
				}
				if msg, err := c.reloadPolicy(ctx, r, p); err == nil {
					p.logger.Info("sighup: " + msg)
				}
			}
		}
	}()
	return r, nil
}

// socketPath is the daemon's control socket: beside the bbolt state
// file, or a replica's control.socket; "" for a replica without one.
func socketPath(cfg *config.Config) string {
	if cfg.StatePath != "" {
		return control.SocketPath(cfg.StatePath)
	}
	return cfg.ControlSocket
}

func (r *controlRunner) stop(logger *zap.Logger) {
	r.server.Drain()
	defer func() {
		r.reload.Lock()
		defer r.reload.Unlock()
		if r.reloaded != nil {
			closeSinks(r.reloaded, logger)
		}
	}()
	if r.hup != nil {
		signal.Stop(r.hup)
	}
	for _, s := range r.servers {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Shutdown(sctx)
		cancel()
	}
}

// reloadPolicy reads the policy file again, checks it as at start-up and
// only then hands it to the engine; on any error the running policy stays.
func (c *cli) reloadPolicy(ctx context.Context, r *controlRunner, p daemonParts) (string, error) {
	r.reload.Lock()
	defer r.reload.Unlock()
	res, built, err := c.tryReload(ctx, p)
	if built != nil { // the engine runs the new policy (even after a late error)
		r.replaced(built, p)
	}
	p.metrics.ReloadDone(err == nil, c.clock.Now())
	if err != nil {
		p.logger.Error("reload failed: keeping the running policy", zap.String("config", p.o.config), zap.Error(err))
		return "", err
	}
	return fmt.Sprintf("policy reloaded: %d keys added %v, %d removed %v, %d kept", len(res.Added), res.Added,
		len(res.Removed), res.Removed, len(res.Changed)), nil
}

// replaced closes the sinks of the policy built replaced (the start-up
// one's again at exit, which is harmless). Evaluations of changed keys
// have ended (Engine.Reload waits for them); one of a removed key or an
// orphan scan still in flight fails closed: a closed sink writes nothing,
// and an unreadable sink blocks every revocation.
func (r *controlRunner) replaced(built *wire.Built, p daemonParts) {
	prev := r.reloaded
	if prev == nil {
		prev = p.built
	}
	r.reloaded = built
	if prev != nil {
		closeSinks(prev, p.logger)
	}
}

// tryReload loads, wires and checks the policy file and makes it the
// engine's; it returns the new policy's parts (their sinks are the
// caller's to close once replaced).
func (c *cli) tryReload(ctx context.Context, p daemonParts) (rotate.ReloadResult, *wire.Built, error) {
	cfg, err := config.LoadFile(p.o.config)
	if err != nil {
		return rotate.ReloadResult{}, nil, fmt.Errorf("%s: %w", p.o.config, err)
	}
	built, err := wire.Build(cfg, wire.Deps{Logger: p.logger, Clock: c.clock, UserAgent: "rotator/" + buildVersion(), Observer: p.metrics})
	if err != nil {
		return rotate.ReloadResult{}, nil, fmt.Errorf("%s: %w", p.o.config, err)
	}
	var errs []error
	for name, s := range built.Sinks {
		if ch, ok := s.(sinks.Checker); ok {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := ch.Check(cctx); err != nil {
				errs = append(errs, fmt.Errorf("sink %s: %w", name, err))
			}
			cancel()
		}
	}
	if err := errors.Join(errs...); err != nil {
		closeSinks(built, p.logger)
		return rotate.ReloadResult{}, nil, fmt.Errorf("start-up checks of the new policy: %w", err)
	}
	var res rotate.ReloadResult
	if p.replica != nil { // the tenure's engine and later tenures' too
		res, err = p.replica.reload(built, p.engine)
	} else {
		if p.hooks != nil && built.Hooks != nil {
			p.hooks.Reload(built.Hooks)
		}
		res, err = p.engine.Reload(rotate.Policy{Keys: built.Keys, Providers: built.Providers, Sinks: built.Sinks})
	}
	return res, built, err
}
