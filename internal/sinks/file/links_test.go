package file_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/file"
)

// TestSymlinkedFolderIsRefused: a folder below dir that is a link, to
// elsewhere or even to another folder inside dir, is neither written
// through nor read through.
func TestSymlinkedFolderIsRefused(t *testing.T) {
	for name, inside := range map[string]bool{"outside": false, "inside": true} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			elsewhere := filepath.Join(dir, "elsewhere")
			if inside {
				elsewhere = filepath.Join(out, "real")
			}
			if err := os.MkdirAll(elsewhere, 0o700); err != nil {
				t.Fatalf("os.MkdirAll(elsewhere, 0o700): %v", err)
			}
			if err := os.MkdirAll(out, 0o700); err != nil {
				t.Fatalf("os.MkdirAll(out, 0o700): %v", err)
			}
			if err := os.Symlink(elsewhere, filepath.Join(out, "team")); err != nil {
				t.Fatalf("os.Symlink(elsewhere, filepath.Join(out, \"team\")): %v", err)
			}
			s := newSink(t, dir, "", sinks.Deps{})
			tg := bind(t, s, "{sink: local, path: team/k.env}")

			_, err := tg.Write(t.Context(), sinks.Write{RotationID: "r1", Data: sinks.Secret{"KEY": "sk_live_x"}})
			if want := "write " + filepath.Join(out, "team", "k.env") + ": folder team is a symbolic link"; err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("tg.Write: got error %v, want one containing %q", err, want)
			}
			entries, err := os.ReadDir(elsewhere)
			if err != nil {
				t.Fatalf("os.ReadDir: %v", err)
			}
			if len(entries) != 0 {
				t.Fatalf("the secret went through the link: got %+v, want empty", entries)
			}

			if err := os.WriteFile(filepath.Join(elsewhere, "k.env"), []byte("KEY=planted\n"), 0o600); err != nil {
				t.Fatalf("os.WriteFile: %v", err)
			}
			_, err = tg.Read(t.Context())
			if err == nil || !strings.Contains(err.Error(), "folder team is a symbolic link") {
				t.Fatalf("tg.Read: got error %v, want one containing %q", err, "folder team is a symbolic link")
			}
		})
	}
}

// TestSymlinkedFileIsRefused: the file itself a link, to /dev/zero or to
// a file outside dir: Read refuses at once instead of following it, and
// Write does not replace it silently.
func TestSymlinkedFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatalf("os.MkdirAll(out, 0o700): %v", err)
	}
	outside := filepath.Join(dir, "outside.json")
	if err := os.WriteFile(outside, []byte(`{"key": "not-ours"}`), 0o600); err != nil {
		t.Fatalf("os.WriteFile: %v", err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(out, "zero.env")); err != nil {
		t.Fatalf("os.Symlink(\"/dev/zero\", filepath.Join(out, \"zero.env\")): %v", err)
	}
	if err := os.Symlink(outside, filepath.Join(out, "k.json")); err != nil {
		t.Fatalf("os.Symlink(outside, filepath.Join(out, \"k.json\")): %v", err)
	}
	s := newSink(t, dir, "", sinks.Deps{})

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for _, path := range []string{"zero.env", "k.json"} {
		tg := bind(t, s, "{sink: local, path: "+path+"}")
		start := time.Now()
		_, err := tg.Read(ctx)
		if want := "read " + filepath.Join(out, path) + ": the file is a symbolic link"; err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("tg.Read: got error %v, want one containing %q", err, want)
		}
		if got := time.Since(start); got >= time.Second {
			t.Fatalf("Read of a link to /dev/zero ran on: got %v, want less than %v", got, time.Second)
		}

		_, err = tg.Write(ctx, sinks.Write{RotationID: "r1", Data: sinks.Secret{"key": "v"}})
		if err == nil || !strings.Contains(err.Error(), "the file is a symbolic link") {
			t.Fatalf("tg.Write: got error %v, want one containing %q", err, "the file is a symbolic link")
		}
	}
	b, err := os.ReadFile(outside)
	if err != nil {
		t.Fatalf("os.ReadFile: %v", err)
	}
	if string(b) != `{"key": "not-ours"}` {
		t.Fatalf("string(b) = %q, want %q", string(b), `{"key": "not-ours"}`)
	}
}

// TestFIFOAndDeviceAreRefused: Read neither blocks on a FIFO nor reads a
// device.
func TestFIFOAndDeviceAreRefused(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatalf("os.MkdirAll(out, 0o700): %v", err)
	}
	if err := syscall.Mkfifo(filepath.Join(out, "fifo.env"), 0o600); err != nil {
		t.Fatalf("syscall.Mkfifo(filepath.Join(out, \"fifo.env\"), 0o600): %v", err)
	}
	s := newSink(t, dir, "", sinks.Deps{})
	tg := bind(t, s, "{sink: local, path: fifo.env}")

	done := make(chan error, 1)
	go func() { _, err := tg.Read(t.Context()); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "the file is not a regular file but a FIFO") {
			t.Fatalf("got error %v, want one containing %q", err, "the file is not a regular file but a FIFO")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read blocked on a FIFO")
	}
	_, err := tg.Write(t.Context(), sinks.Write{RotationID: "r1", Data: sinks.Secret{"KEY": "v"}})
	if err == nil || !strings.Contains(err.Error(), "not a regular file but a FIFO") {
		t.Fatalf("tg.Write: got error %v, want one containing %q", err, "not a regular file but a FIFO")
	}
}

// TestOversizedFileIsRefused: Read stops at MaxFileSize.
func TestOversizedFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatalf("os.MkdirAll(out, 0o700): %v", err)
	}
	big := "A=" + strings.Repeat("x", file.MaxFileSize) + "\n"
	if err := os.WriteFile(filepath.Join(out, "k.env"), []byte(big), 0o600); err != nil {
		t.Fatalf("os.WriteFile(filepath.Join(out, \"k.env\"), []byte(big), 0o600): %v", err)
	}
	s := newSink(t, dir, "", sinks.Deps{})
	tg := bind(t, s, "{sink: local, path: k.env}")
	_, err := tg.Read(t.Context())
	if err == nil || !strings.Contains(err.Error(), "the file is larger than 1024 KiB") {
		t.Fatalf("tg.Read: got error %v, want one containing %q", err, "the file is larger than 1024 KiB")
	}

	// At the cap it is read.
	atCap := "A=" + strings.Repeat("x", file.MaxFileSize-3) + "\n"
	if err := os.WriteFile(filepath.Join(out, "k.env"), []byte(atCap), 0o600); err != nil {
		t.Fatalf("os.WriteFile(filepath.Join(out, \"k.env\"), []byte(atCap), 0o600): %v", err)
	}
	got, err := tg.Read(t.Context())
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if len(got["A"]) != file.MaxFileSize-3 {
		t.Fatalf("len(got[\"A\"]) = %d, want %d: %q", len(got["A"]), file.MaxFileSize-3, got["A"])
	}
}
