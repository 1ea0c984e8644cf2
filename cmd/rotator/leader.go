package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/leader"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/state/pgstore"
	"github.com/rotator-dev/rotator/internal/wire"
)

// With state.backend postgres several replicas share one database and
// exactly one acts: the holder of the leadership lease (internal/leader,
// docs/ha.md). Every replica serves /metrics, /healthz, /readyz and
// /status; the leader alone runs the engine, over its tenure's
// FencedStore (state writes refused once a newer leader exists, every
// side effect at a provider or a sink preceded by a lease check).

// engineStore is what an engine is built over: its state, its audit trail
// and, with replicas, its leadership (a *leader.FencedStore is all three).
type engineStore interface {
	rotate.Store
	rotate.EventLog
}

// leadershipOf is the store's leadership check when it has one (a tenure's
// FencedStore), nil for a store one process owns.
func leadershipOf(s engineStore) rotate.Leadership {
	if l, ok := s.(rotate.Leadership); ok {
		return l
	}
	return nil
}

// newLease is this replica's view of the leadership lease.
func newLease(pg *pgstore.Store, cfg *config.Config, clock clockwork.Clock, logger *zap.Logger) (*leader.Lease, error) {
	return leader.New(pg, leader.Options{TTL: cfg.State.LeaseTTL, Clock: clock, Logger: logger})
}

// leaderGauge sets rotator_leader when the metrics have it.
func leaderGauge(m *rotate.Metrics, leading bool) {
	if g, ok := any(m).(interface{ SetLeader(bool) }); ok {
		g.SetLeader(leading)
	}
}

// lead follows until this replica takes the lease, then runs an engine
// built over the tenure's FencedStore until the tenure ends (the lease
// lost, or ctx done), and follows again. It returns when ctx is done.
// While the engine runs it is rc's: control requests and hooks reach it.
func lead(ctx context.Context, l *leader.Lease, rc *replicaCtl, m *rotate.Metrics, logger *zap.Logger) error {
	leaderGauge(m, false)
	logger.Info("following: another replica may lead", zap.String("holder", l.Holder()))
	l.Run(ctx, func(tctx context.Context, fs *leader.FencedStore) {
		engine, err := rc.begin(fs)
		if err != nil {
			logger.Error("cannot start the engine", zap.Error(err))
			return
		}
		defer rc.end(engine)
		leaderGauge(m, true)
		defer leaderGauge(m, false)
		logger.Info("leading: the engine runs", zap.Int64("token", fs.Token()))
		if err := engine.Serve(tctx); err != nil && tctx.Err() == nil {
			logger.Error("the engine stopped with an error; following again", zap.Error(err))
		}
		if ctx.Err() == nil {
			logger.Warn("leadership ended: following again")
		}
	})
	return nil
}

// errLeaseHeld: run-now refuses while another replica leads.
var errLeaseHeld = errors.New("another replica holds the leadership lease: it does the work; send the command to that replica (its control.socket or control.listen), or stop every replica first")

// runLeased runs f (run-now) once, as the leader: it takes the lease at
// once or refuses (errLeaseHeld), renews it while f runs and releases it
// when f returns, so that the daemons' leader takes over at once.
func runLeased(ctx context.Context, l *leader.Lease, build func(engineStore) (*rotate.Engine, error), f func(context.Context, *rotate.Engine) int) (int, error) {
	ok, err := l.Acquire(ctx)
	if err != nil {
		return exitFailed, err
	}
	if !ok {
		if holder, err := l.LeaderHolder(ctx); err == nil && holder != "" {
			return exitFailed, fmt.Errorf("%w (the leader is %s)", errLeaseHeld, holder)
		}
		return exitFailed, errLeaseHeld
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	code, ran := exitFailed, false
	var buildErr error
	l.Run(rctx, func(tctx context.Context, fs *leader.FencedStore) {
		defer cancel()
		ran = true
		engine, err := build(fs)
		if err != nil {
			buildErr = err
			return
		}
		code = f(tctx, engine)
	})
	switch {
	case buildErr != nil:
		return exitFailed, buildErr
	case !ran:
		return exitFailed, fmt.Errorf("run-now: %w", ctx.Err())
	}
	return code, nil
}

// followerStore is the shared state as a replica that does not lead sees
// it: reads pass, writes and side effects are refused (leader.ErrNotLeader).
// The engine every replica builds at start-up (start-up checks, /status,
// plan) runs over it, so that nothing but a tenure's engine can act.
type followerStore struct{ *pgstore.Store }

func (followerStore) Put(state.Key) error         { return leader.ErrNotLeader }
func (followerStore) Append(state.Event) error    { return leader.ErrNotLeader }
func (followerStore) Check(context.Context) error { return leader.ErrNotLeader }

// asFollower is the store the start-up engine is built over.
func asFollower(s state.Backend) engineStore {
	if pg, ok := s.(*pgstore.Store); ok {
		return followerStore{pg}
	}
	return s
}

// replica is run and run-now with state.backend postgres: run-now acts
// under the lease (or refuses while a daemon leads), the daemon serves
// its endpoints on every replica and runs the engine while it leads; its
// control API and its hooks act through that engine only (replicaCtl).
func (c *cli) replica(ctx context.Context, pg *pgstore.Store, p daemonParts, built *wire.Built) int {
	l, err := newLease(pg, p.cfg, c.clock, p.logger)
	if err != nil {
		p.logger.Error("cannot start the leadership lease", zap.Error(err))
		return exitFailed
	}
	defer l.Close()
	build := func(b *wire.Built, s engineStore) (*rotate.Engine, error) {
		return c.newEngine(p.cfg, b, s, p.metrics, p.logger)
	}
	if p.o.cmd == "run-now" {
		code, err := runLeased(ctx, l, func(s engineStore) (*rotate.Engine, error) { return build(built, s) },
			func(ctx context.Context, e *rotate.Engine) int { return c.runNow(ctx, e, p.logger, p.o) })
		if err != nil {
			fmt.Fprintf(c.stderr, "rotator: run-now: %v\n", err)
		}
		return code
	}
	rc := &replicaCtl{lease: l, build: build, policy: built}
	if built.Hooks != nil {
		built.Hooks.Start(rc.hookSucceeded) // rebinds: hooks release revocations through the tenure's engine
	}
	leaderGauge(p.metrics, false) // a follower until it takes the lease, also while starting
	p.replica = rc
	p.serve = func(ctx context.Context) error { return lead(ctx, l, rc, p.metrics, p.logger) }
	return c.daemon(ctx, p)
}
