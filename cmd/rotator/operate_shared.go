package main

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/control"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/wire"
)

// viaReplica carries out a control command with state.backend postgres:
// through this replica's daemon when control.socket is set and it
// answers (the leader acts; a follower answers status and history and
// refuses the rest, naming the leader), else on the shared database
// (directShared: under the lease, refused while a daemon leads).
func (c *cli) viaReplica(ctx context.Context, logger *zap.Logger, cfg *config.Config, built *wire.Built,
	metrics *rotate.Metrics, req control.Request) (control.Response, error) {
	if cfg.ControlSocket != "" {
		resp, err := control.Unix(cfg.ControlSocket).Do(ctx, req)
		if !errors.Is(err, control.ErrNoDaemon) {
			return resp, err
		}
	}
	return c.directShared(ctx, logger, cfg, built, metrics, req)
}

// directShared carries out a control command on the replicas' shared
// database (state.backend postgres), where there is no control socket to
// ask: status and history read the database; the commands that act
// (rotate, revoke, pause, resume) take the leadership lease for their
// duration, as run-now does, and are refused while a daemon leads (then
// send them to the leader's control.listen). reload needs a daemon.
func (c *cli) directShared(ctx context.Context, logger *zap.Logger, cfg *config.Config, built *wire.Built,
	metrics *rotate.Metrics, req control.Request) (control.Response, error) {
	readOnly := req.Command == "status" || req.Command == "history"
	if req.Command == "reload" {
		return control.Response{}, fmt.Errorf("reload: with state.backend %s each replica reloads its own policy: set control.socket (then rotator reload asks this replica), or SIGHUP every replica", config.BackendPostgres)
	}
	pg, err := openPostgres(ctx, cfg, readOnly)
	if err != nil {
		return control.Response{}, err
	}
	defer pg.Close()
	keys := cfg.Keys
	op := &operator{clock: c.clock, store: pg}
	op.status = func() ([]rotate.StatusRow, error) {
		records, err := pg.All()
		return rotate.Status(keys, records, c.clock.Now()), err
	}
	if readOnly {
		return op.do(ctx, cliActor(), req), nil
	}
	l, err := newLease(pg, cfg, c.clock, logger)
	if err != nil {
		return control.Response{}, err
	}
	defer l.Close()
	build := func(s engineStore) (*rotate.Engine, error) { return c.newEngine(cfg, built, s, metrics, logger) }
	var resp control.Response
	_, err = runLeased(ctx, l, build, func(ctx context.Context, e *rotate.Engine) int {
		if req.Command == "rotate" || req.Command == "revoke" {
			if err := e.Check(ctx); err != nil {
				resp = control.Response{Stderr: fmt.Sprintf("rotator: start-up checks failed: %v\n", err), Exit: exitFailed}
				return exitFailed
			}
		}
		op.engine = e
		resp = op.do(ctx, cliActor(), req)
		return resp.Exit
	})
	return resp, err
}

// printResponse prints a control response, or the error that kept it from
// being made, and returns the exit code.
func (c *cli) printResponse(resp control.Response, err error) int {
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: %v\n", err)
		return exitFailed
	}
	fmt.Fprint(c.stdout, resp.Stdout)
	fmt.Fprint(c.stderr, resp.Stderr)
	return resp.Exit
}
