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

// looseSocketPath is the daemon's control socket as a policy that may not
// be valid (a reload's) names it: beside the bbolt state file, or
// control.socket with backend postgres (an error when that is unset).
func looseSocketPath(file string) (string, error) {
	var doc struct {
		State struct {
			Backend string `yaml:"backend"`
		} `yaml:"state"`
		Control struct {
			Socket string `yaml:"socket"`
		} `yaml:"control"`
	}
	if err := looseRead(file, &doc); err != nil {
		return "", err
	}
	if doc.State.Backend != config.BackendPostgres {
		p, err := looseStatePath(file)
		return control.SocketPath(p), err
	}
	if doc.Control.Socket == "" {
		return "", fmt.Errorf("backend %s without control.socket: no socket to send to", config.BackendPostgres)
	}
	return besidePolicy(file, doc.Control.Socket), nil
}
