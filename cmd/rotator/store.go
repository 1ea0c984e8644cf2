package main

import (
	"context"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/state/pgstore"
)

var _ state.Backend = (*pgstore.Store)(nil)

// openBackend opens the configured state backend; readOnly (a dry run, a
// status or an export) changes nothing: the bbolt file is opened read-only
// (or an empty one is made in a temporary folder), the database is
// neither created nor migrated.
func openBackend(ctx context.Context, cfg *config.Config, readOnly bool) (state.Backend, error) {
	if cfg.State.Backend == config.BackendPostgres {
		if s, err := openPostgres(ctx, cfg, readOnly); err == nil {
			return s, nil
		} else {
			return nil, err
		}
	}
	s, err := openState(cfg.StatePath, readOnly)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openPostgres opens the shared state database. Its errors never show the
// DSN's password (pgstore's promise).
func openPostgres(ctx context.Context, cfg *config.Config, readOnly bool) (*pgstore.Store, error) {
	return pgstore.Open(ctx, pgstore.Options{
		DSN:      cfg.State.DSN.Reveal(),
		Schema:   cfg.State.Schema,
		MaxConns: int32(cfg.State.MaxConns),
		ReadOnly: readOnly,
		// Half the lease: a leader frozen inside a fenced write loses its
		// session (and its lock on the lease row) before the lease could
		// expire, so the freeze never delays a takeover.
		IdleInTransaction: cfg.State.LeaseTTL / 2,
	})
}
