package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/control"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/wire"
)

// operate runs a control command: through the running daemon's control
// socket when one answers, else on the state file directly. The operator
// sees the same output and exit code either way.
func (c *cli) operate(ctx context.Context, logger *zap.Logger, o *options) int {
	if o.cmd == "reload" {
		// The daemon validates the policy it reloads (and says so in its
		// metrics): the CLI only needs to find its socket.
		if sock, err := looseSocketPath(o.config); err == nil {
			return c.send(ctx, sock, control.Request{Command: "reload"})
		}
	}
	metrics := rotate.NewMetrics(prometheus.NewRegistry())
	cfg, built, ok := c.loadPolicy(o, logger, metrics)
	if !ok {
		return exitConfig
	}
	defer closeSinks(built, logger)
	if err := checkKeyArgs(o.cmd, o.args, cfg.Keys); err != nil {
		fmt.Fprintf(c.stderr, "rotator: %v\n", err)
		return exitConfig
	}
	req := control.Request{Command: o.cmd, Keys: o.args, RevokeOldNow: o.revokeOldNow, Superseded: o.superseded,
		Reason: o.reason, JSON: o.jsonOut, Since: o.since}
	if cfg.State.Backend == config.BackendPostgres { // replicas: control.socket, else the database (viaReplica)
		return c.printResponse(c.viaReplica(ctx, logger, cfg, built, metrics, req))
	}
	resp, err := control.Unix(control.SocketPath(cfg.StatePath)).Do(ctx, req)
	switch {
	case err == nil:
	case errors.Is(err, control.ErrNoDaemon):
		resp, err = c.direct(ctx, logger, cfg, built, metrics, req)
	}
	return c.printResponse(resp, err)
}

// direct carries out the request on the state file when no daemon runs.
func (c *cli) direct(ctx context.Context, logger *zap.Logger, cfg *config.Config, built *wire.Built,
	metrics *rotate.Metrics, req control.Request) (control.Response, error) {
	statePath, keys := cfg.StatePath, cfg.Keys
	op := &operator{clock: c.clock}
	readOnly := req.Command == "status" || req.Command == "history" || req.Command == "reload"
	if readOnly {
		if _, err := os.Stat(statePath); errors.Is(err, os.ErrNotExist) {
			// No state yet: every key is never rotated, no history.
			op.status = func() ([]rotate.StatusRow, error) { return rotate.Status(keys, nil, c.clock.Now()), nil }
			return op.do(ctx, cliActor(), req), nil
		}
	}
	store, err := state.Open(statePath, state.Options{ReadOnly: readOnly, LockTimeout: 500 * time.Millisecond})
	if errors.Is(err, state.ErrLocked) {
		return control.Response{}, fmt.Errorf("%w; and the daemon's control socket %s does not answer (an older rotator, or it is starting)",
			err, control.SocketPath(statePath))
	}
	if err != nil {
		return control.Response{}, err
	}
	defer store.Close()
	op.store = store
	op.status = func() ([]rotate.StatusRow, error) {
		records, err := store.All()
		return rotate.Status(keys, records, c.clock.Now()), err
	}
	if readOnly {
		return op.do(ctx, cliActor(), req), nil
	}
	engine, err := c.newEngine(cfg, built, store, metrics, logger)
	if err != nil {
		return control.Response{}, err
	}
	if req.Command == "rotate" || req.Command == "revoke" {
		// As the daemon at its start: a sink that cannot be written or
		// read fails now, before any key is created.
		if err := engine.Check(ctx); err != nil {
			return control.Response{}, fmt.Errorf("start-up checks failed: %w", err)
		}
	}
	op.engine = engine
	return op.do(ctx, cliActor(), req), nil
}

// send sends a request to the daemon's socket; no daemon is exit 1.
func (c *cli) send(ctx context.Context, sock string, req control.Request) int {
	resp, err := control.Unix(sock).Do(ctx, req)
	if errors.Is(err, control.ErrNoDaemon) {
		err = errors.New("no daemon is running: there is nothing to reload (the next start reads the policy)")
	}
	return c.printResponse(resp, err)
}

// looseSocketPath is the daemon's control socket as a policy that may not
// be valid (a reload's) names it: beside the bbolt state file (state.path,
// resolved as config.Load does), or control.socket with backend postgres
// (an error when that is unset).
func looseSocketPath(file string) (string, error) {
	var doc struct {
		State struct {
			Backend string `yaml:"backend"`
			Path    string `yaml:"path"`
		} `yaml:"state"`
		Control struct {
			Socket string `yaml:"socket"`
		} `yaml:"control"`
	}
	if err := looseRead(file, &doc); err != nil {
		return "", err
	}
	if doc.State.Backend != config.BackendPostgres {
		return control.SocketPath(besidePolicy(file, cmp.Or(doc.State.Path, config.DefaultStatePath))), nil
	}
	if doc.Control.Socket == "" {
		return "", fmt.Errorf("backend %s without control.socket: no socket to send to", config.BackendPostgres)
	}
	return besidePolicy(file, doc.Control.Socket), nil
}

// looseRead decodes into doc only the fields doc names from a policy that
// may not be valid (a reload's).
func looseRead(file string, doc any) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	return yaml.Unmarshal(raw, doc)
}

// besidePolicy resolves a path the policy file names: a relative one is
// relative to the file's folder.
func besidePolicy(file, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(file), p)
}
