package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goodWith is the good policy with its state: section replaced.
func goodWith(state string) string {
	return "state: " + state + "\n" + strings.Replace(good, "state:\n  path: ./state.db\n", "", 1)
}

func TestStateBackends(t *testing.T) {
	dir := t.TempDir()
	dsnFile := filepath.Join(dir, "dsn")
	if err := os.WriteFile(dsnFile, []byte("postgres://rotator:filepass@db.example:5432/rotator?sslmode=verify-full\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ROTATOR_TEST_DSN", "postgres://rotator:envpass@db.example/rotator")

	c, err := Load(strings.NewReader(good), dir)
	if err != nil || c.State.Backend != BackendBbolt || c.StatePath == "" {
		t.Fatalf("default: backend %q path %q err %v", c.State.Backend, c.StatePath, err)
	}
	c, err = Load(strings.NewReader(goodWith("{backend: postgres, dsn: \"${ROTATOR_TEST_DSN}\"}")), dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.State.DSN.Reveal() != "postgres://rotator:envpass@db.example/rotator" || c.StatePath != "" ||
		c.State.Schema != "rotator" || c.State.MaxConns != 4 || c.State.LeaseTTL != 15*time.Second {
		t.Errorf("postgres defaults: %+v path %q", c.State, c.StatePath)
	}
	c, err = Load(strings.NewReader(goodWith("{backend: postgres, dsn_file: ./dsn, schema: ha_1, max_conns: 8, lease_ttl: 2s}")), dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.State.DSN.Reveal(), "filepass") || c.State.Schema != "ha_1" || c.State.MaxConns != 8 || c.State.LeaseTTL != 2*time.Second {
		t.Errorf("postgres settings: %+v", c.State)
	}
	if s := c.State.DSN.String(); strings.Contains(s, "filepass") {
		t.Errorf("the DSN prints: %s", s)
	}
}

func TestStateErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ state, want string }{
		{"{backend: etcd}", "state.backend"},
		{"{backend: postgres}", "state.dsn"},
		{"{backend: postgres, dsn: 'postgres://u:hunter2@h/db', path: ./x.db}", "state.path"},
		{"{backend: postgres, dsn: 'mysql://u:hunter2@h/db'}", "state.dsn"},
		{"{backend: postgres, dsn: 'postgres://u:hunter2@h/db', dsn_file: ./dsn}", "state.dsn"},
		{"{backend: postgres, dsn_file: ./missing}", "state.dsn_file"},
		{"{backend: postgres, dsn: 'postgres://u:hunter2@h/db', schema: Bad-Name}", "state.schema"},
		{"{backend: postgres, dsn: 'postgres://u:hunter2@h/db', max_conns: 1}", "state.max_conns"},
		{"{backend: postgres, dsn: 'postgres://u:hunter2@h/db', lease_ttl: 100ms}", "state.lease_ttl"},
		{"{backend: postgres, dsn: 'postgres://u:hunter2@h/db', ttl: 2s}", "state.ttl"},
		{"{path: ./s.db, dsn: 'postgres://u:hunter2@h/db'}", "state.dsn"},
		{"{lease_ttl: 2s}", "state.lease_ttl"},
		{"{backend: postgres, dsn: '%zz:hunter2'}", "state.dsn"},
	} {
		_, err := Load(strings.NewReader(goodWith(tc.state)), dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("state: %s: %v, want an error naming %s", tc.state, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("state: %s: the error shows the password: %v", tc.state, err)
		}
	}
}
