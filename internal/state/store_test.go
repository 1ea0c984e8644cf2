package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestPutGetRoundTrip(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	in := Key{Name: "k", Current: &ProviderKey{Provider: "p", ID: "1", Name: "n", CreatedAt: now},
		Retiring: []Retiring{{ProviderKey: ProviderKey{ID: "0"}, RevokeAfter: now}}, Failures: 2}
	if err := s.Put(in); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("k")
	if err != nil {
		t.Fatal(err)
	}
	if got.Current.ID != "1" || !got.Current.CreatedAt.Equal(now) || len(got.Retiring) != 1 || got.Failures != 2 {
		t.Errorf("round trip lost data: %+v", got)
	}
	if unknown, err := s.Get("nope"); err != nil || unknown.Name != "nope" || unknown.Current != nil {
		t.Errorf("unknown key: %+v, %v", unknown, err)
	}
}

func TestFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
}

func TestSecondInstanceRefusesToStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another rotator process") {
		t.Errorf("error does not say which file and why: %v", err)
	}
}

func TestFutureSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keySchema, []byte("99"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrFutureSchema) || !strings.Contains(err.Error(), "schema 99") {
		t.Fatalf("err = %v, want ErrFutureSchema naming the version", err)
	}
}

func TestUnwritableFolderIsAClearError(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores permissions; use a path under a file instead.
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o600)
		_, err := Open(filepath.Join(f, "s.db"), Options{})
		if err == nil || !strings.Contains(err.Error(), "open state") {
			t.Fatalf("err = %v", err)
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	_, err := Open(filepath.Join(dir, "s.db"), Options{})
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("err = %v", err)
	}
}

func TestReadOnlyOpenDoesNotCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	if _, err := Open(path, Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only open created a file")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("file exists")
	}
}
