package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/state/pgstore/pgtest"
)

// withState writes a copy of the env's policy with its state: section
// replaced, and returns its path.
func (e *env) withState(t *testing.T, name, section string) string {
	t.Helper()
	b, err := os.ReadFile(e.config)
	must(t, err)
	s := strings.Replace(string(b), "state: {path: ./state.db}", "state: "+section, 1)
	p := filepath.Join(e.dir, name)
	must(t, os.WriteFile(p, []byte(s), 0o600))
	return p
}

// exportLines is an export without its header (which carries the time).
func exportLines(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	_, body, ok := strings.Cut(string(b), "\n")
	if !ok || !strings.Contains(string(b), `"format":"rotator-state"`) {
		t.Fatalf("%s is not an export:\n%s", path, b)
	}
	return body
}

// TestStateExportImportRoundTrip moves a real state (two keys rotated,
// their audit trail) bbolt → postgres → bbolt: every record and event
// arrives unchanged, the daemon on postgres finds nothing to do (no new
// key at the providers), an import never merges into a store that holds
// records, and no export holds a secret.
func TestStateExportImportRoundTrip(t *testing.T) {
	dsn := pgtest.DSN(t)
	e := newEnv(t, "1h")
	if code, out, errs := runCLI(t, "--config", e.config, "--run-now"); code != exitOK {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errs)
	}
	pg := e.withState(t, "pg.yaml", fmt.Sprintf("{backend: postgres, dsn: %q, schema: %s, lease_ttl: 2s}", dsn, pgtest.Schema(t, dsn)))
	bolt2 := e.withState(t, "bolt2.yaml", "{path: ./state2.db}")
	a, b, c := filepath.Join(e.dir, "a.jsonl"), filepath.Join(e.dir, "b.jsonl"), filepath.Join(e.dir, "c.jsonl")

	steps := [][]string{
		{"state", "export", "--config", e.config, "--file", a},
		{"state", "import", "--config", pg, "--file", a},
		{"state", "export", "--config", pg, "--file", b},
		{"state", "import", "--config", bolt2, "--file", b},
		{"state", "export", "--config", bolt2, "--file", c},
	}
	for _, args := range steps {
		if code, out, errs := runCLI(t, args...); code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
		}
	}
	want := exportLines(t, a)
	if n := strings.Count(want, `"kind":"key"`); n != 2 || !strings.Contains(want, `"kind":"event"`) {
		t.Fatalf("the export holds %d key records and no event? \n%s", n, want)
	}
	for _, p := range []string{b, c} {
		if got := exportLines(t, p); got != want {
			t.Errorf("%s differs from the first export:\n got %s\nwant %s", filepath.Base(p), got, want)
		}
		raw, _ := os.ReadFile(p)
		e.assertNoSecret(t, filepath.Base(p), string(raw))
	}
	if code, _, errs := runCLI(t, "state", "import", "--config", pg, "--file", a); code != exitFailed || !strings.Contains(errs, "already holds 2 key records") {
		t.Errorf("import into a store with records: exit %d, want 1 and a refusal:\n%s", code, errs)
	}
	creates := e.smtpd.Requests()["create"] + e.emailit.Requests()["create"]
	if code, out, errs := runCLI(t, "--config", pg, "--run-now", "--due-only"); code != exitOK {
		t.Fatalf("run-now on postgres: exit %d\n%s%s", code, out, errs)
	}
	if after := e.smtpd.Requests()["create"] + e.emailit.Requests()["create"]; after != creates {
		t.Errorf("run-now on the imported state created %d keys: the state did not carry over", after-creates)
	}
	// The one-shot commands work on the database too: pause takes the
	// lease for its write, status reads.
	if code, out, errs := runCLI(t, "pause", "--config", pg, "mail", "--reason", "round trip"); code != exitOK {
		t.Fatalf("pause on postgres: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runCLI(t, "status", "--config", pg); code != exitOK || !strings.Contains(out, "news") || !strings.Contains(out, "paused") {
		t.Errorf("status on postgres: exit %d, want 0 and both keys, mail paused:\n%s%s", code, out, errs)
	}
}
