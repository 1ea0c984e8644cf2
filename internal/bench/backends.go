package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotator-dev/rotator/internal/leader"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/state/pgstore"
)

// The backends phase times the same burst (a forced RunOnce over every
// key, smtpd, grace 0s) with the state in bbolt and in PostgreSQL, the
// latter as a leader writes it: through its tenure's FencedStore, each
// write checking the fencing token in its transaction, and a lease check
// before each side effect.

type backendStore interface {
	rotate.Store
	rotate.EventLog
	All() ([]state.Key, error)
}

// runBackends prints the table; dsn is a PostgreSQL cluster (a fresh
// schema is made and dropped per cell).
func runBackends(ctx context.Context, out io.Writer, dsn string, ns []int, latencies []time.Duration, concurrency int) error {
	fmt.Fprintf(out, "## State backends: the burst with bbolt and with PostgreSQL (fenced), smtpd, max_concurrent %d\n\n", concurrency)
	fmt.Fprintln(out, "| keys | latency | bbolt | postgres (fenced) | postgres / bbolt |")
	fmt.Fprintln(out, "|---:|---:|---:|---:|---:|")
	for _, n := range ns {
		for _, lat := range latencies {
			bolt, err := backendBurst(ctx, "", n, lat, concurrency)
			if err != nil {
				return fmt.Errorf("bbolt %d keys: %w", n, err)
			}
			pg, err := backendBurst(ctx, dsn, n, lat, concurrency)
			if err != nil {
				return fmt.Errorf("postgres %d keys: %w", n, err)
			}
			fmt.Fprintf(out, "| %d | %s | %s | %s | %.2f |\n", n, lat, round(bolt), round(pg), pg.Seconds()/bolt.Seconds())
		}
	}
	fmt.Fprintln(out)
	return nil
}

// backendBurst seeds n keys (one rotation each, no latency) and times a
// second forced pass at the latency, on bbolt (dsn "") or PostgreSQL.
func backendBurst(ctx context.Context, dsn string, n int, latency time.Duration, concurrency int) (time.Duration, error) {
	w, err := newWorld(worldOptions{Provider: "smtpd", Keys: n, MaxConcurrent: concurrency, RateLimit: 1e6})
	if err != nil {
		return 0, err
	}
	defer w.close()
	var store backendStore
	if dsn == "" {
		st, err := state.Open(w.statePath(), state.Options{})
		if err != nil {
			return 0, err
		}
		defer st.Close()
		store = st
	} else {
		fs, closeFn, err := fencedStore(ctx, dsn)
		if err != nil {
			return 0, err
		}
		defer closeFn()
		store = fs
	}
	eng, err := w.wireEngine(store, store, nil)
	if err != nil {
		return 0, err
	}
	if err := runOnce(ctx, eng); err != nil {
		return 0, fmt.Errorf("seed run: %w", err)
	}
	w.setLatency(latency)
	start := time.Now()
	if err := runOnce(ctx, eng); err != nil {
		return 0, fmt.Errorf("timed run: %w", err)
	}
	return time.Since(start), nil
}

// fencedStore opens a fresh schema and takes the lease in it (a long TTL:
// the burst must not outlive it; renewals are not the subject here).
func fencedStore(ctx context.Context, dsn string) (*leader.FencedStore, func(), error) {
	schema := benchSchema()
	pg, err := pgstore.Open(ctx, pgstore.Options{DSN: dsn, Schema: schema})
	if err != nil {
		return nil, nil, err
	}
	drop := func() {
		pg.Close()
		dropSchema(dsn, schema)
	}
	l, err := leader.New(pg, leader.Options{TTL: time.Hour, RenewInterval: 30 * time.Minute})
	if err != nil {
		drop()
		return nil, nil, err
	}
	if ok, err := l.Acquire(ctx); !ok || err != nil {
		l.Close()
		drop()
		return nil, nil, fmt.Errorf("acquire the lease: %v", err)
	}
	fs, err := l.Fenced(ctx)
	if err != nil {
		l.Close()
		drop()
		return nil, nil, err
	}
	return fs, func() { l.Close(); drop() }, nil
}

func (r idleResult) label() string {
	if r.postgres {
		return fmt.Sprintf("%d keys, postgres", r.keys)
	}
	return fmt.Sprintf("%d keys", r.keys)
}

func benchSchema() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "bench_" + hex.EncodeToString(b)
}

func dropSchema(dsn, schema string) {
	if conn, err := pgx.Connect(context.Background(), dsn); err == nil {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		conn.Close(context.Background())
	}
}

// seedStore is the world's state store, for seeding.
func (w *world) seedStore() (interface {
	Put(state.Key) error
	Close() error
}, error) {
	if w.dsn == "" {
		return state.Open(w.statePath(), state.Options{})
	}
	return pgstore.Open(context.Background(), pgstore.Options{DSN: w.dsn, Schema: w.schema, MaxConns: 16})
}
