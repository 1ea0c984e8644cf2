package file_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
			require.NoError(t, os.MkdirAll(elsewhere, 0o700))
			require.NoError(t, os.MkdirAll(out, 0o700))
			require.NoError(t, os.Symlink(elsewhere, filepath.Join(out, "team")))
			s := newSink(t, dir, "", sinks.Deps{})
			tg := bind(t, s, "{sink: local, path: team/k.env}")

			_, err := tg.Write(t.Context(), sinks.Write{RotationID: "r1", Data: sinks.Secret{"KEY": "sk_live_x"}})
			require.ErrorContains(t, err, "write "+filepath.Join(out, "team", "k.env")+": folder team is a symbolic link")
			entries, err := os.ReadDir(elsewhere)
			require.NoError(t, err)
			require.Empty(t, entries, "the secret went through the link")

			require.NoError(t, os.WriteFile(filepath.Join(elsewhere, "k.env"), []byte("KEY=planted\n"), 0o600))
			_, err = tg.Read(t.Context())
			require.ErrorContains(t, err, "folder team is a symbolic link")
		})
	}
}

// TestSymlinkedFileIsRefused: the file itself a link, to /dev/zero or to
// a file outside dir: Read refuses at once instead of following it, and
// Write does not replace it silently.
func TestSymlinkedFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(out, 0o700))
	outside := filepath.Join(dir, "outside.json")
	require.NoError(t, os.WriteFile(outside, []byte(`{"key": "not-ours"}`), 0o600))
	require.NoError(t, os.Symlink("/dev/zero", filepath.Join(out, "zero.env")))
	require.NoError(t, os.Symlink(outside, filepath.Join(out, "k.json")))
	s := newSink(t, dir, "", sinks.Deps{})

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for _, path := range []string{"zero.env", "k.json"} {
		tg := bind(t, s, "{sink: local, path: "+path+"}")
		start := time.Now()
		_, err := tg.Read(ctx)
		require.ErrorContains(t, err, "read "+filepath.Join(out, path)+": the file is a symbolic link")
		require.Less(t, time.Since(start), time.Second, "Read of a link to /dev/zero ran on")

		_, err = tg.Write(ctx, sinks.Write{RotationID: "r1", Data: sinks.Secret{"key": "v"}})
		require.ErrorContains(t, err, "the file is a symbolic link")
	}
	b, err := os.ReadFile(outside)
	require.NoError(t, err)
	require.Equal(t, `{"key": "not-ours"}`, string(b))
}

// TestFIFOAndDeviceAreRefused: Read neither blocks on a FIFO nor reads a
// device.
func TestFIFOAndDeviceAreRefused(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(out, 0o700))
	require.NoError(t, syscall.Mkfifo(filepath.Join(out, "fifo.env"), 0o600))
	s := newSink(t, dir, "", sinks.Deps{})
	tg := bind(t, s, "{sink: local, path: fifo.env}")

	done := make(chan error, 1)
	go func() { _, err := tg.Read(t.Context()); done <- err }()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "the file is not a regular file but a FIFO")
	case <-time.After(10 * time.Second):
		t.Fatal("Read blocked on a FIFO")
	}
	_, err := tg.Write(t.Context(), sinks.Write{RotationID: "r1", Data: sinks.Secret{"KEY": "v"}})
	require.ErrorContains(t, err, "not a regular file but a FIFO")
}

// TestOversizedFileIsRefused: Read stops at MaxFileSize.
func TestOversizedFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(out, 0o700))
	big := "A=" + strings.Repeat("x", file.MaxFileSize) + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(out, "k.env"), []byte(big), 0o600))
	s := newSink(t, dir, "", sinks.Deps{})
	tg := bind(t, s, "{sink: local, path: k.env}")
	_, err := tg.Read(t.Context())
	require.ErrorContains(t, err, "the file is larger than 1024 KiB")

	// At the cap it is read.
	atCap := "A=" + strings.Repeat("x", file.MaxFileSize-3) + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(out, "k.env"), []byte(atCap), 0o600))
	got, err := tg.Read(t.Context())
	require.NoError(t, err)
	require.Len(t, got["A"], file.MaxFileSize-3)
}
