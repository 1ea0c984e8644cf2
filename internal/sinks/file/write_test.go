package file_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestWriteFileModeAndContent(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir, `, mode: "0640"`, sinks.Deps{})
	tg := bind(t, s, "{sink: local, path: deep/er/k.json}")
	data := sinks.Secret{"api_key": "em_<&>\"x", "key_id": "42"}
	v, err := tg.Write(t.Context(), sinks.Write{RotationID: "r1", KeyID: "42", Data: data})
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if v != "" {
		t.Fatalf("v = %q, want %q", v, "")
	}

	path := filepath.Join(dir, "out", "deep", "er", "k.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("os.Stat: %v", err)
	}
	if got := fi.Mode().Perm(); got != fs.FileMode(0o640) {
		t.Fatalf("fi.Mode().Perm() = %v, want %v", got, fs.FileMode(0o640))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("os.ReadFile: %v", err)
	}
	if string(b) != "{\n  \"_managed_by\": \"rotator\",\n  \"api_key\": \"em_<&>\\\"x\",\n  \"key_id\": \"42\"\n}\n" {
		t.Fatalf("string(b) = %q, want %q", string(b), "{\n  \"_managed_by\": \"rotator\",\n  \"api_key\": \"em_<&>\\\"x\",\n  \"key_id\": \"42\"\n}\n")
	}
	if got := tg.String(); got != "file "+path {
		t.Fatalf("tg.String() = %q, want %q", got, "file "+path)
	}

	// No temporary file is left behind.
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatalf("os.ReadDir: %v", err)
	}
	if len(entries) != 1 {
		t.Fatalf("len(entries) = %d, want %d: %+v", len(entries), 1, entries)
	}
}

func TestIdempotentWriteLeavesFileUntouched(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir, "", sinks.Deps{})
	tg := bind(t, s, "{sink: local, path: k.env}")
	w := sinks.Write{RotationID: "r1", Data: sinks.Secret{"KEY": "v"}}
	_, err := tg.Write(t.Context(), w)
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	path := filepath.Join(dir, "out", "k.env")
	before, err := os.Stat(path)
	if err != nil {
		t.Fatalf("os.Stat: %v", err)
	}

	_, err = tg.Write(t.Context(), w)
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatalf("os.Stat: %v", err)
	}
	if !os.SameFile(before, after) {
		t.Fatalf("an identical rewrite replaced the file: got false, want true")
	}

	// A changed mode is repaired even when the bytes are the same.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatalf("os.Chmod(path, 0o644): %v", err)
	}
	_, err = tg.Write(t.Context(), w)
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("os.Stat: %v", err)
	}
	if got := fi.Mode().Perm(); got != fs.FileMode(0o600) {
		t.Fatalf("fi.Mode().Perm() = %v, want %v", got, fs.FileMode(0o600))
	}
}

func TestWriteRejectsUnencodableData(t *testing.T) {
	const secret = "sk_live_do_not_leak"
	cases := map[string]struct {
		path string
		data sinks.Secret
		want string
	}{
		"env name with a dash":       {"k.env", sinks.Secret{"api-key": secret}, `field "api-key" is not a valid environment variable name`},
		"env name starting with a 1": {"k.env", sinks.Secret{"1KEY": secret}, `field "1KEY" is not a valid environment variable name`},
		"env value with NUL":         {"k.env", sinks.Secret{"KEY": secret + "\x00"}, `field "KEY": value holds a NUL byte`},
		"json value not UTF-8":       {"k.json", sinks.Secret{"key": secret + "\xff"}, `field "key": value is not valid UTF-8`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := newSink(t, dir, "", sinks.Deps{})
			tg := bind(t, s, "{sink: local, path: "+tc.path+"}")
			_, err := tg.Write(t.Context(), sinks.Write{RotationID: "r1", Data: tc.data})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("tg.Write: got error %v, want one containing %q", err, tc.want)
			}
			sinktest.AssertNoSecret(t, err.Error(), secret)
			_, err = os.Stat(filepath.Join(dir, "out", tc.path))
			if !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("os.Stat: got error %v, want one that is %v", err, fs.ErrNotExist)
			}
		})
	}
}

func TestWriteFailureRemovesTempFileAndLogsNoSecret(t *testing.T) {
	dir := t.TempDir()
	core, logs := observer.New(zapcore.DebugLevel)
	s := newSink(t, dir, "", sinks.Deps{Name: "local", Logger: zap.New(core), Clock: clockwork.NewFakeClock()})
	tg := bind(t, s, "{sink: local, path: k.json}")
	// A folder where the file should be: refused before any temp file is
	// written.
	if err := os.MkdirAll(filepath.Join(dir, "out", "k.json", "x"), 0o700); err != nil {
		t.Fatalf("os.MkdirAll(filepath.Join(dir, \"out\", \"k.json\", \"x\"), 0o700): %v", err)
	}
	_, err := tg.Write(t.Context(), sinks.Write{RotationID: "r1", KeyID: "id1", Data: sinks.Secret{"key": "sk_live_secret"}})
	if err == nil || !strings.Contains(err.Error(), "the file is not a regular file but a folder") {
		t.Fatalf("tg.Write: got error %v, want one containing %q", err, "the file is not a regular file but a folder")
	}
	sinktest.AssertNoSecret(t, err.Error(), "sk_live_secret")
	entries, err := os.ReadDir(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatalf("os.ReadDir: %v", err)
	}
	if len(entries) != 1 {
		t.Fatalf("temporary file left behind: len(entries) = %d, want %d: %+v", len(entries), 1, entries)
	}

	_, err = tg.Write(t.Context(), sinks.Write{RotationID: "r1", KeyID: "id1", Data: sinks.Secret{"key": "sk_live_secret"}})
	if err == nil {
		t.Fatalf("tg.Write: got no error, want one")
	}
	if err := os.RemoveAll(filepath.Join(dir, "out", "k.json")); err != nil {
		t.Fatalf("os.RemoveAll(filepath.Join(dir, \"out\", \"k.json\")): %v", err)
	}
	_, err = tg.Write(t.Context(), sinks.Write{RotationID: "r1", KeyID: "id1", Data: sinks.Secret{"key": "sk_live_secret"}})
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	// One line per step: the engine logs the write ("sink written"), the
	// sink does not repeat it ("file written").
	if got := logs.FilterLevelExact(zapcore.InfoLevel).Len(); got != 0 {
		t.Fatalf("the sink logged a write: %v: got %v, want zero", logs.All(), got)
	}
	sinktest.AssertLogsNoSecret(t, logs, "sk_live_secret")
}
