package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SchemaVersion is the newest schema this build knows: the number of the
// last file in migrations/.
const SchemaVersion = 3

// ErrFutureSchema is returned by Open when the database schema was
// migrated by a newer rotator.
var ErrFutureSchema = errors.New("database schema was migrated by a newer rotator")

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned SQL file, applied in its own transaction.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations reads the embedded files NNNN_what.sql, which must be
// numbered 1, 2, ... without gaps.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_what.sql", base)
		}
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	if len(out) != SchemaVersion {
		return nil, fmt.Errorf("%d migrations, but SchemaVersion is %d", len(out), SchemaVersion)
	}
	return out, nil
}

// migrate brings the schema up to SchemaVersion. It holds a session
// advisory lock named after the schema while it runs, so that replicas
// starting together migrate one at a time (the others wait, then find
// nothing to do), and refuses a schema newer than this build.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	lock := "rotator.migrate." + schema
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtextextended($1, 0))", lock); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		// A failed unlock leaves the lock with the session: drop the
		// connection so the server releases it.
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtextextended($1, 0))", lock); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	current, err := schemaVersion(ctx, conn.Conn(), schema)
	if err != nil {
		return err
	}
	if current > SchemaVersion {
		return fmt.Errorf("%w (schema %q is at version %d, this build knows up to %d): upgrade rotator",
			ErrFutureSchema, schema, current, SchemaVersion)
	}
	for _, m := range ms[current:] {
		err := pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error {
			q := pgx.Identifier{schema}.Sanitize()
			if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+q); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO "+q+".schema_migrations (version) VALUES ($1)", m.version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// schemaVersion creates the schema and its schema_migrations table when
// missing and returns the highest version applied (0 for a new schema).
// Existing objects are looked up first, so that a role without CREATE
// can run a migrated schema.
func schemaVersion(ctx context.Context, conn *pgx.Conn, schema string) (int, error) {
	q := pgx.Identifier{schema}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+q); err != nil {
			return 0, fmt.Errorf("create schema %q: %w", schema, err)
		}
	}
	var table *string
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1)::text", q+".schema_migrations").Scan(&table); err != nil {
		return 0, err
	}
	if table == nil {
		_, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+q+`.schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now())`)
		if err != nil {
			return 0, fmt.Errorf("create %s.schema_migrations: %w", q, err)
		}
	}
	var v int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+q+".schema_migrations").Scan(&v); err != nil {
		return 0, err
	}
	return v, nil
}

// checkVersion is migrate's check alone, for a read-only Open: it
// creates nothing and wants the schema at exactly SchemaVersion.
func checkVersion(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	q := pgx.Identifier{schema}.Sanitize()
	var table *string
	if err := pool.QueryRow(ctx, "SELECT to_regclass($1)::text", q+".schema_migrations").Scan(&table); err != nil {
		return err
	}
	if table == nil {
		return fmt.Errorf("schema %q holds no rotator state: start the daemon once to create it", schema)
	}
	var v int
	if err := pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+q+".schema_migrations").Scan(&v); err != nil {
		return err
	}
	switch {
	case v > SchemaVersion:
		return fmt.Errorf("%w (schema %q is at version %d, this build knows up to %d): upgrade rotator",
			ErrFutureSchema, schema, v, SchemaVersion)
	case v < SchemaVersion:
		return fmt.Errorf("schema %q is at version %d, this build reads %d: start the daemon of this build once to migrate it",
			schema, v, SchemaVersion)
	}
	return nil
}
