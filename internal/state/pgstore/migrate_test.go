package pgstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/state/pgstore/pgtest"
)

func TestMigrationFilesAreNumberedWithoutGaps(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != SchemaVersion || ms[len(ms)-1].version != SchemaVersion {
		t.Fatalf("%d migrations, SchemaVersion %d", len(ms), SchemaVersion)
	}
}

func versions(t *testing.T, dsn, schema string) []int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, "SELECT version FROM "+pgx.Identifier{schema}.Sanitize()+".schema_migrations ORDER BY version")
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestReplicasStartingTogetherMigrateOnce: the advisory lock serialises
// the migration; without it the racing CREATEs and version INSERTs fail.
func TestReplicasStartingTogetherMigrateOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	const replicas = 8
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Go(func() {
			s, err := Open(context.Background(), Options{DSN: dsn, Schema: schema})
			if err == nil {
				err = s.Put(state.Key{Name: "k"})
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	if got := versions(t, dsn, schema); len(got) != SchemaVersion {
		t.Fatalf("schema_migrations = %v, want 1..%d once each", got, SchemaVersion)
	}
}

// TestOlderSchemaIsMigrated: a schema left at version 1 by an older build
// gets the missing migrations, and its records stay.
func TestOlderSchemaIsMigrated(t *testing.T) {
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	s, err := Open(context.Background(), Options{DSN: dsn, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(state.Key{Name: "kept", Rotations: 4}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	pgtest.Exec(t, dsn, "DROP TABLE "+schema+".leader_lease, "+schema+".events")
	pgtest.Exec(t, dsn, "DELETE FROM "+schema+".schema_migrations WHERE version > 1")

	s, err = Open(context.Background(), Options{DSN: dsn, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := versions(t, dsn, schema); len(got) != SchemaVersion {
		t.Fatalf("schema_migrations = %v after the upgrade", got)
	}
	pgtest.Exec(t, dsn, "SELECT count(*) FROM "+schema+".leader_lease")
	if k, err := s.Get("kept"); err != nil || k.Rotations != 4 {
		t.Fatalf("record after the upgrade: %+v, %v", k, err)
	}
}

func TestBadSchemaNameNamesTheField(t *testing.T) {
	for _, name := range []string{"Rotator", "1x", "a-b", "x;drop", strings.Repeat("a", 64)} {
		_, err := Open(context.Background(), Options{DSN: "postgres://u@127.0.0.1:1/db", Schema: name})
		if err == nil || !strings.Contains(err.Error(), "state.schema") {
			t.Errorf("schema %q: err = %v, want one naming state.schema", name, err)
		}
	}
}

// TestErrorsDoNotShowThePassword: neither a DSN that does not parse nor
// a failed login puts the password in the error.
func TestErrorsDoNotShowThePassword(t *testing.T) {
	dsn := pgtest.DSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "hunter2-not-the-password"
	wrong := strings.Replace(dsn, cfg.Password, pw, 1)
	for _, d := range []string{wrong, "postgres://rotator:" + pw + "@127.0.0.1:notaport/db"} {
		_, err := Open(context.Background(), Options{DSN: d})
		if err == nil {
			t.Fatalf("opened with %s", d)
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

// TestReadOnlyOpen creates and migrates nothing, reads a migrated schema,
// refuses writes, and names what is wrong with a missing, older or newer
// schema.
func TestReadOnlyOpen(t *testing.T) {
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	ro := Options{DSN: dsn, Schema: schema, ReadOnly: true}
	_, err := Open(context.Background(), ro)
	if err == nil || !strings.Contains(err.Error(), "holds no rotator state") {
		t.Fatalf("read-only open of a missing schema: %v", err)
	}
	if schemaExists(t, dsn, schema) {
		t.Fatal("a read-only open created the schema")
	}
	s, err := Open(context.Background(), Options{DSN: dsn, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(state.Key{Name: "mail", Rotations: 2}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	r, err := Open(context.Background(), ro)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := r.Get("mail"); err != nil || k.Rotations != 2 {
		t.Fatalf("read-only Get = %+v, %v", k, err)
	}
	if err := r.Put(state.Key{Name: "mail"}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only Put = %v, want ErrReadOnly", err)
	}
	r.Close()

	pgtest.Exec(t, dsn, "DELETE FROM "+schema+".schema_migrations WHERE version = $1", SchemaVersion)
	if _, err := Open(context.Background(), ro); err == nil || !strings.Contains(err.Error(), "migrate") {
		t.Fatalf("read-only open of an older schema: %v", err)
	}
	pgtest.Exec(t, dsn, "INSERT INTO "+schema+".schema_migrations (version) VALUES (99)")
	if _, err := Open(context.Background(), ro); !errors.Is(err, ErrFutureSchema) {
		t.Fatalf("read-only open of a newer schema: %v", err)
	}
}

func schemaExists(t *testing.T, dsn, schema string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}
