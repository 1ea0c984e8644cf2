// Package pgstore keeps the daemon's state in PostgreSQL, for replicas
// that share one database (state.backend: postgres). It has the contract
// of the bbolt store (state.Store): one JSON record per managed key, key
// ids and names, never a credential; Get of an unknown key returns a
// record with only its name; Put is durable when it returns.
//
// Its tables live in one schema (default "rotator"), created and migrated
// at Open by the embedded, versioned files in migrations/ under an
// advisory lock; a schema migrated by a newer rotator is refused
// (ErrFutureSchema). The leader package's lease table is one of them, and
// PutFenced lets it check its fencing token in the transaction of a write.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rotator-dev/rotator/internal/state"
)

// ErrReadOnly is returned by Put on a store opened ReadOnly.
var ErrReadOnly = errors.New("the state store is open read-only")

// DefaultSchema is the schema used when Options.Schema is empty.
const DefaultSchema = "rotator"

// Options tune Open.
type Options struct {
	// DSN is a postgres:// URL or a libpq key=value string; TLS follows
	// libpq (sslmode=verify-full with sslrootcert is recommended).
	DSN string
	// Schema holds rotator's tables; "" means DefaultSchema. Lowercase
	// letters, digits and _, not starting with a digit, up to 63.
	Schema string
	// MaxConns bounds the connection pool; 0 means 4.
	MaxConns int32
	// Timeout bounds each Get, Put and All; 0 means 10s.
	Timeout time.Duration
	// IdleInTransaction, when positive, has the server end a session that
	// sits idle inside a transaction for longer (PostgreSQL's
	// idle_in_transaction_session_timeout). The store's own transactions
	// never wait on the client between statements, so only a paused or
	// partitioned process trips it: under HA its fenced write holds a share
	// lock on the lease row, and without this bound a leader frozen
	// mid-write (SIGSTOP, a VM freeze) would block every takeover for as
	// long as it stays frozen.
	IdleInTransaction time.Duration
	// ReadOnly opens without creating or migrating anything (for
	// --status and exports): the schema must exist at SchemaVersion, and
	// Put fails.
	ReadOnly bool
}

// Store is an open PostgreSQL state store.
type Store struct {
	pool     *pgxpool.Pool
	schema   string
	timeout  time.Duration
	readOnly bool

	get, put, all      string
	appendEv, eventsOf string
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Open connects, migrates the schema and returns the store. Its errors
// never include the DSN's password.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	if !schemaName.MatchString(o.Schema) {
		return nil, fmt.Errorf("state.schema %q: use lowercase letters, digits and _ (not first a digit), up to 63", o.Schema)
	}
	if o.MaxConns < 0 {
		return nil, fmt.Errorf("state.max_conns %d: must be positive", o.MaxConns)
	}
	if o.MaxConns == 0 {
		o.MaxConns = 4
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	cfg, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("state.dsn: %w", err)
	}
	cfg.MaxConns = o.MaxConns
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "rotator"
	}
	if o.IdleInTransaction > 0 {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] =
			strconv.FormatInt(max(o.IdleInTransaction.Milliseconds(), 1), 10)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open state database: %w", err)
	}
	check := migrate
	if o.ReadOnly {
		check = checkVersion
	}
	if err := check(ctx, pool, o.Schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open state database (schema %q): %w", o.Schema, err)
	}
	keys := pgx.Identifier{o.Schema, "keys"}.Sanitize()
	return &Store{
		pool:     pool,
		schema:   o.Schema,
		timeout:  o.Timeout,
		readOnly: o.ReadOnly,
		get:      "SELECT record FROM " + keys + " WHERE name = $1",
		put: "INSERT INTO " + keys + " (name, record, updated_at) VALUES ($1, $2, now())" +
			" ON CONFLICT (name) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at",
		// Byte order, like bbolt's keys and Go's string comparison.
		all:      "SELECT name, record FROM " + keys + ` ORDER BY name COLLATE "C"`,
		appendEv: appendSQL(pgx.Identifier{o.Schema, "events"}.Sanitize()),
		eventsOf: eventsSQL(pgx.Identifier{o.Schema, "events"}.Sanitize()),
	}, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Pool is the store's connection pool (the leader package shares it).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Table is the quoted, schema-qualified name of one of the store's tables.
func (s *Store) Table(name string) string { return pgx.Identifier{s.schema, name}.Sanitize() }

// Get returns the record of the named key; a key never seen returns a
// record with only its name.
func (s *Store) Get(name string) (state.Key, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	k := state.Key{Name: name}
	var v []byte
	err := retry(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, s.get, name).Scan(&v)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return k, nil
	}
	if err == nil {
		err = json.Unmarshal(v, &k)
	}
	if err != nil {
		return state.Key{Name: name}, fmt.Errorf("read state of %s: %w", name, err)
	}
	return k, nil
}

// Put writes the record; it is committed (durable with the server's
// default synchronous_commit) when Put returns.
func (s *Store) Put(k state.Key) error {
	return s.PutFenced(k, nil)
}

// Fence guards a write: it runs in the write's transaction before the
// record is written, and an error it returns aborts the write.
type Fence func(ctx context.Context, tx pgx.Tx) error

// PutFenced is Put with fence checked in the same transaction (nil: no
// check). The error wraps the fence's, for errors.Is.
func (s *Store) PutFenced(k state.Key, fence Fence) error {
	return s.write("write state of "+k.Name, fence, s.put, k, k.Name)
}

// write runs one statement with args and, last, v as JSON, within the
// store's timeout: in a transaction after fence when there is one, retried
// after a connection failure. Its errors start with what ("write state of
// mail"); a read-only store refuses (ErrReadOnly).
func (s *Store) write(what string, fence Fence, sql string, v any, args ...any) error {
	if s.readOnly {
		return fmt.Errorf("%s: %w", what, ErrReadOnly)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	args = append(args, string(b))
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	err = retry(ctx, func(ctx context.Context) error {
		if fence == nil {
			_, err := s.pool.Exec(ctx, sql, args...)
			return err
		}
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if err := fence(ctx, tx); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, sql, args...)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// All returns every record, sorted by name.
func (s *Store) All() ([]state.Key, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	var out []state.Key
	err := retry(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, s.all)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanKey)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	return out, nil
}

// scanKey decodes one row of name, record.
func scanKey(r pgx.CollectableRow) (state.Key, error) {
	var name string
	var v []byte
	var k state.Key
	if err := r.Scan(&name, &v); err != nil {
		return k, err
	}
	if err := json.Unmarshal(v, &k); err != nil {
		return k, fmt.Errorf("record %s: %w", name, err)
	}
	return k, nil
}
