package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks"
)

// preflightTimeout bounds each check.
const preflightTimeout = 30 * time.Second

// preflight runs every read-only check a real run needs and changes
// nothing: each provider's login and one list; each sink's auth and
// capabilities; a read of every target. One line each, OK or FAILED.
func (c *cli) preflight(ctx context.Context, logger *zap.Logger, o *options) int {
	metrics := rotate.NewMetrics(prometheus.NewRegistry())
	cfg, built, ok := c.loadPolicy(o, logger, metrics)
	if !ok {
		return exitConfig
	}
	defer closeSinks(built, logger)
	failed := false
	report := func(what string, err error, okNote string) {
		switch {
		case err != nil:
			failed = true
			fmt.Fprintf(c.stdout, "%-60s FAILED: %v\n", what, err)
		case okNote != "":
			fmt.Fprintf(c.stdout, "%-60s OK (%s)\n", what, okNote)
		default:
			fmt.Fprintf(c.stdout, "%-60s OK\n", what)
		}
	}
	for _, sec := range cfg.Providers {
		name := strings.TrimPrefix(sec.Path, "providers.")
		cctx, cancel := context.WithTimeout(ctx, preflightTimeout)
		keys, err := built.Providers[name].List(cctx, "")
		cancel()
		report("provider "+name+": login and list", err, fmt.Sprintf("%d keys", len(keys)))
	}
	for _, sec := range cfg.Sinks {
		name := strings.TrimPrefix(sec.Path, "sinks.")
		if ch, ok := built.Sinks[name].(sinks.Checker); ok {
			cctx, cancel := context.WithTimeout(ctx, preflightTimeout)
			report("sink "+name+": auth and capabilities", ch.Check(cctx), "")
			cancel()
		}
	}
	for _, k := range built.Keys {
		for _, t := range k.Targets {
			c.preflightTarget(ctx, c.stdout, k.Policy.Name, t, report)
		}
	}
	if failed {
		return exitFailed
	}
	return exitOK
}

// preflightTarget reads one target: a target not written yet is fine.
func (c *cli) preflightTarget(ctx context.Context, _ io.Writer, key string, t rotate.BoundTarget,
	report func(string, error, string)) {
	cctx, cancel := context.WithTimeout(ctx, preflightTimeout)
	defer cancel()
	_, err := t.Target.Read(cctx)
	note := ""
	if errors.Is(err, sinks.ErrNotFound) {
		err, note = nil, "not written yet"
	}
	report(fmt.Sprintf("sink %s: read %s (key %s)", t.Sink, t.Target, key), err, note)
}
