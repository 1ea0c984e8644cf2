package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/state/pgstore/pgtest"
)

// TestServerRestartIsSurvived: the server closes every connection (as a
// restart or failover does); the next Put, Get and All still succeed, on
// new connections. Without retry the Put fails with SQLSTATE 57P01.
func TestServerRestartIsSurvived(t *testing.T) {
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	s, err := Open(context.Background(), Options{DSN: dsn, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(state.Key{Name: "mail", Rotations: 1}); err != nil {
		t.Fatal(err)
	}
	terminate := func() {
		pgtest.Exec(t, dsn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE pid <> pg_backend_pid() AND application_name = 'rotator' AND query LIKE '%' || $1 || '%'`, schema)
	}
	terminate()
	if err := s.Put(state.Key{Name: "mail", Rotations: 2}); err != nil {
		t.Fatalf("Put after the server closed the connections: %v", err)
	}
	terminate()
	if k, err := s.Get("mail"); err != nil || k.Rotations != 2 {
		t.Fatalf("Get after the server closed the connections: %+v, %v", k, err)
	}
	terminate()
	if all, err := s.All(); err != nil || len(all) != 1 {
		t.Fatalf("All after the server closed the connections: %v, %v", all, err)
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "40001"}, true},
		{fmt.Errorf("write: %w", io.ErrUnexpectedEOF), true},
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "42P01"}, false},
		{context.DeadlineExceeded, false},
		{errors.New("write refused: a newer leader holds the lease"), false},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
