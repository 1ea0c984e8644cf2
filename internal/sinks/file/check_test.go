package file_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/file"
	"go.uber.org/zap"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir, "", sinks.Deps{})
	if err := os.WriteFile(filepath.Join(dir, "out"), nil, 0o600); err != nil {
		t.Fatalf("os.WriteFile(filepath.Join(dir, \"out\"), nil, 0o600): %v", err)
	}
	if err, want := s.Check(t.Context()), "file sink "+filepath.Join(dir, "out")+": not a folder"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("s.Check(t.Context()): got error %v, want one containing %q", err, want)
	}
	if err := os.Remove(filepath.Join(dir, "out")); err != nil {
		t.Fatalf("os.Remove(filepath.Join(dir, \"out\")): %v", err)
	}

	if err := os.Mkdir(filepath.Join(dir, "out"), 0o700); err != nil {
		t.Fatalf("os.Mkdir(filepath.Join(dir, \"out\"), 0o700): %v", err)
	}
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("s.Check(t.Context()): %v", err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatalf("os.ReadDir: %v", err)
	}
	if len(entries) != 0 {
		t.Fatalf("check file left behind: got %+v, want empty", entries)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("s.Check(ctx): got error %v, want one that is %v", err, context.Canceled)
	}
}

// TestCheckCreatesMissingDir: the shipped examples' dir
// (/var/lib/rotator/out) does not exist on a fresh machine or volume: Check
// creates it (mode 0700) when its parent exists, and says what to do when
// the parent is missing too.
func TestCheckCreatesMissingDir(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir, "", sinks.Deps{Name: "local", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()})
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("s.Check(t.Context()): %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatalf("os.Stat: %v", err)
	}
	if !fi.IsDir() {
		t.Fatalf("fi.IsDir(): got false, want true")
	}
	if got := fi.Mode().Perm(); got != fs.FileMode(0o700) {
		t.Fatalf("fi.Mode().Perm() = %v, want %v", got, fs.FileMode(0o700))
	}

	// The first write creates it as well, without a Check first.
	if err := os.Remove(filepath.Join(dir, "out")); err != nil {
		t.Fatalf("os.Remove(filepath.Join(dir, \"out\")): %v", err)
	}
	tg := bind(t, s, "{sink: local, path: k.env}")
	_, err = tg.Write(t.Context(), sinks.Write{RotationID: "r1", Data: sinks.Secret{"A": "1"}})
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if info, err := os.Lstat(filepath.Join(dir, "out", "k.env")); err != nil || info.IsDir() {
		t.Fatalf("out/k.env: got %v (error %v), want a file", info, err)
	}

	// Neither the dir nor its parent: nothing is created, the error says
	// how to fix it and names the YAML field.
	cfg, err := file.ParseConfig(section(t, "sinks.local", dir, "{type: file, dir: missing/out}"))
	if err != nil {
		t.Fatalf("file.ParseConfig: %v", err)
	}
	deep, err := file.New(cfg, sinks.Deps{Name: "local", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()})
	if err != nil {
		t.Fatalf("file.New: %v", err)
	}
	err = deep.Check(t.Context())
	if want := "file sink " + filepath.Join(dir, "missing", "out") + ": the folder does not exist, nor does its parent " +
		filepath.Join(dir, "missing") + ": create it (mkdir -p -m 0700 " + filepath.Join(dir, "missing", "out") + ") or change sinks.local.dir"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("deep.Check: got error %v, want one containing %q", err, want)
	}
	if info, err := os.Lstat(filepath.Join(dir, "missing")); err == nil && info.IsDir() {
		t.Fatalf("%s was created, want no directory there", filepath.Join(dir, "missing"))
	}
	_, err = bind(t, deep, "{sink: local, path: k.env}").Write(t.Context(), sinks.Write{RotationID: "r1", Data: sinks.Secret{"A": "1"}})
	if err == nil || !strings.Contains(err.Error(), "or change sinks.local.dir") {
		t.Fatalf("bind(t, deep, \"{sink: local, path: k.env}\").Write: got error %v, want one containing %q", err, "or change sinks.local.dir")
	}
	if info, err := os.Lstat(filepath.Join(dir, "missing")); err == nil && info.IsDir() {
		t.Fatalf("%s was created, want no directory there", filepath.Join(dir, "missing"))
	}
}

func TestCheckReadOnlyFolder(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o500); err != nil {
		t.Fatalf("os.Mkdir(out, 0o500): %v", err)
	}
	want := "not writable: permission denied"
	if f, err := os.CreateTemp(out, "probe"); err == nil {
		// Root ignores folder permissions: make the folder a read-only
		// file system instead (CI runs as root).
		f.Close()
		if err := os.Remove(f.Name()); err != nil {
			t.Fatalf("os.Remove(f.Name()): %v", err)
		}
		if msg, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", out).CombinedOutput(); err != nil {
			t.Fatalf("root, yet cannot mount a read-only tmpfs to test with: %v %s", err, msg)
		}
		t.Cleanup(func() { _ = exec.Command("umount", out).Run() })
		want = "not writable: read-only file system"
	}
	s := newSink(t, dir, "", sinks.Deps{})
	if err := s.Check(t.Context()); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("s.Check(t.Context()): got error %v, want one containing %q", err, want)
	}
}
