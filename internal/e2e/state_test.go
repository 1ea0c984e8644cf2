package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rotator-dev/rotator/internal/state"
)

// needMount mounts (tmpfs or bind) as root; where this machine forbids it
// the test skips, except in CI, where it fails.
func needMount(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("mount", args...).CombinedOutput()
	if err == nil {
		return
	}
	msg := "mount " + strings.Join(args, " ") + ": " + err.Error() + " " + string(out) + " (the test needs root and CAP_SYS_ADMIN)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestStateFolderUnwritable: a state folder that cannot be created or
// written stops the daemon at start with exit 1 and a message naming the
// file, before any provider call.
func TestStateFolderUnwritable(t *testing.T) {
	t.Parallel()
	t.Run("the folder is a file", func(t *testing.T) {
		pol := fastPolicy()
		pol.StateDir = "blocked"
		w := newWorld(t, pol)
		must(t, os.WriteFile(filepath.Join(w.dir, "blocked"), []byte("a file"), 0o600))
		code, _, logs := w.run(t, nil, "--config", w.config)
		if code != 1 || !strings.Contains(logs, "cannot open the state file") || !strings.Contains(logs, "blocked/state.db") ||
			!strings.Contains(logs, "not a directory") {
			t.Errorf("exit %d, want 1 and a message naming the state file and the cause:\n%s", code, logs)
		}
		if n := w.smtpd.Requests()["create"] + w.emailit.Requests()["create"]; n != 0 {
			t.Errorf("%d creates without a state file", n)
		}
	})
	t.Run("a read-only folder", func(t *testing.T) {
		pol := fastPolicy()
		w := newWorld(t, pol)
		dir := filepath.Join(w.dir, "state")
		must(t, os.Mkdir(dir, 0o700))
		needMount(t, "--bind", dir, dir)
		t.Cleanup(func() { exec.Command("umount", dir).Run() })
		needMount(t, "-o", "remount,ro,bind", dir)
		code, _, logs := w.run(t, nil, "--config", w.config)
		if code != 1 || !strings.Contains(logs, "state/state.db") || !strings.Contains(logs, "read-only file system") {
			t.Errorf("exit %d, want 1 and a message naming the state file and the cause:\n%s", code, logs)
		}
	})
}

// TestStateFromTheFuture: a state file written by a newer rotator is
// refused with a clear error and left exactly as it was.
func TestStateFromTheFuture(t *testing.T) {
	t.Parallel()
	w := newWorld(t, fastPolicy())
	code, _, logs := w.run(t, nil, "--config", w.config, "--run-now")
	must(t, errOn(code != 0, "first run: "+logs))
	db, err := bolt.Open(w.statePath(), 0o600, &bolt.Options{Timeout: time.Second})
	must(t, err)
	must(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("99"))
	}))
	must(t, db.Close())
	before, _ := os.ReadFile(w.statePath())
	for _, args := range [][]string{{"--config", w.config}, {"--config", w.config, "--run-now"}, {"--config", w.config, "--status"}} {
		code, _, logs := w.run(t, nil, args...)
		want := fmt.Sprintf("written by a newer rotator (schema 99, this build reads up to %d): upgrade rotator", state.SchemaVersion)
		if code != 1 || !strings.Contains(logs, want) {
			t.Errorf("%v: exit %d, want 1 and the schema message:\n%s", args, code, logs)
		}
	}
	after, _ := os.ReadFile(w.statePath())
	if !bytes.Equal(before, after) {
		t.Error("the state file from the future was changed")
	}
	if n := w.smtpd.Requests()["create"]; n != 1 {
		t.Errorf("%d creates at smtpd, want only the first run's", n)
	}
}

// TestStateFileGarbage: a state file that is not a bbolt file is refused
// and not overwritten.
func TestStateFileGarbage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, fastPolicy())
	must(t, os.MkdirAll(filepath.Dir(w.statePath()), 0o700))
	garbage := bytes.Repeat([]byte("not a database "), 1000)
	must(t, os.WriteFile(w.statePath(), garbage, 0o600))
	code, _, logs := w.run(t, nil, "--config", w.config)
	if code != 1 || !strings.Contains(logs, "cannot open the state file") || !strings.Contains(logs, "state.db") {
		t.Errorf("exit %d, want 1 and a message naming the file:\n%s", code, logs)
	}
	if got, _ := os.ReadFile(w.statePath()); !bytes.Equal(got, garbage) {
		t.Error("the unreadable state file was overwritten")
	}
}

// TestStateDiskFull puts the state file on a small tmpfs, fills it while
// the daemon runs, and frees it again: state writes fail with a clear
// error, no consumer sees an outage, no key is left untracked, and the
// daemon recovers by itself.
func TestStateDiskFull(t *testing.T) {
	t.Parallel()
	w := newWorld(t, fastPolicy())
	dir := filepath.Join(w.dir, "state")
	must(t, os.Mkdir(dir, 0o700))
	needMount(t, "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", dir)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	t.Cleanup(func() { // before the umount: the state file is on the tmpfs
		b, _ := os.ReadFile(w.statePath())
		w.record("the state file on the tmpfs", string(b))
	})
	pr := w.startProbe(t)
	p := w.daemon(t)

	// Fill the disk.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	must(t, err)
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()
	_, m := p.get(t, "/metrics")
	fail0 := failures(m)
	logs0 := len(p.logText())
	eventually(t, 30*time.Second, "a state write fails with ENOSPC and says so", func() bool {
		return strings.Contains(p.logText()[logs0:], "no space left on device")
	})
	_, m = p.get(t, "/metrics")
	t.Logf("disk full: failures %v → %v", fail0, failures(m))
	for i := 0; i < 30 && !p.exited(); i++ {
		time.Sleep(100 * time.Millisecond) // let it run full for a while
	}
	if p.exited() {
		t.Fatalf("rotator exited on a full disk:\n%s", tail(p.log))
	}
	_, m = p.get(t, "/metrics")
	mail0, news0 := successes(m, "mail"), successes(m, "news")
	must(t, os.Remove(filler))
	eventually(t, 30*time.Second, "both keys rotate once the disk has room again", func() bool {
		_, m := p.get(t, "/metrics")
		return successes(m, "mail") > mail0 && successes(m, "news") > news0
	})
	rep := w.stopAndVerify(t, p, pr, 3*time.Second)
	if st, err := state.Open(w.statePath(), state.Options{ReadOnly: true}); err != nil {
		t.Errorf("the state file does not open after the full disk: %v", err)
	} else {
		st.Close()
	}
	t.Logf("E2E-FIGURES test=disk-full probe_reads=%d outages=%d orphans=%d", rep.reads, len(rep.outages), len(w.untracked(t)))
}

func errOn(cond bool, msg string) error {
	if cond {
		return errors.New(msg)
	}
	return nil
}
