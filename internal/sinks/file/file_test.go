package file_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/file"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
)

func section(t testing.TB, path, baseDir, src string) config.Section {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml.Unmarshal([]byte(src), &doc): %v", err)
	}
	return config.Section{Path: path, Type: "file", BaseDir: baseDir, Node: doc.Content[0]}
}

func newSink(t *testing.T, dir, extra string, deps sinks.Deps) *file.Sink {
	t.Helper()
	cfg, err := file.ParseConfig(section(t, "sinks.local", dir, "{type: file, dir: out"+extra+"}"))
	if err != nil {
		t.Fatalf("file.ParseConfig: %v", err)
	}
	if deps.Logger == nil {
		deps = sinks.Deps{Name: "local", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()}
	}
	s, err := file.New(cfg, deps)
	if err != nil {
		t.Fatalf("file.New: %v", err)
	}
	return s
}

func bind(t *testing.T, s *file.Sink, target string) sinks.Target {
	t.Helper()
	tg, err := s.Bind(section(t, "keys[0].sinks[0]", "", target))
	if err != nil {
		t.Fatalf("s.Bind: %v", err)
	}
	return tg
}

func TestContract(t *testing.T) {
	for _, format := range []string{"json", "env"} {
		t.Run(format, func(t *testing.T) {
			var dirs = map[sinks.Target]string{}
			var roots = map[sinks.Target]string{}
			target := "sub/secret." + format
			sinktest.Run(t, sinktest.Harness{
				New: func(t *testing.T, deps sinks.Deps) sinks.Target {
					dir := t.TempDir()
					s := newSink(t, dir, "", deps)
					if err := os.MkdirAll(filepath.Join(dir, "out", "sub"), 0o700); err != nil {
						t.Fatalf("os.MkdirAll(filepath.Join(dir, \"out\", \"sub\"), 0o700): %v", err)
					}
					if err := s.Check(t.Context()); err != nil {
						t.Fatalf("s.Check(t.Context()): %v", err)
					}
					tg := bind(t, s, "{sink: local, path: "+target+", fields: {a: b}}")
					dirs[tg] = filepath.Join(dir, "out", "sub")
					roots[tg] = dir
					return tg
				},
				// Another tool's file, in the same format but unmarked.
				Foreign: func(t *testing.T, tg sinks.Target, data sinks.Secret) {
					var b []byte
					if format == "json" {
						b, _ = json.Marshal(data)
					} else {
						for _, k := range slices.Sorted(maps.Keys(data)) {
							b = append(b, k+"='"+data[k]+"'\n"...)
						}
					}
					if err := os.WriteFile(filepath.Join(dirs[tg], "secret."+format), b, 0o600); err != nil {
						t.Fatalf("os.WriteFile(filepath.Join(dirs[tg], \"secret.\"+format), b, 0o600): %v", err)
					}
				},
				Rebind: func(t *testing.T, tg sinks.Target, adopt bool, deps sinks.Deps) sinks.Target {
					s := newSink(t, roots[tg], "", deps)
					return bind(t, s, fmt.Sprintf("{sink: local, path: %s, adopt: %t}", target, adopt))
				},
				// The folder is replaced by a regular file: every operation fails.
				Down: func(t *testing.T, tg sinks.Target) func() {
					sub := dirs[tg]
					if err := os.Rename(sub, sub+".away"); err != nil {
						t.Fatalf("os.Rename(sub, sub+\".away\"): %v", err)
					}
					if err := os.WriteFile(sub, nil, 0o600); err != nil {
						t.Fatalf("os.WriteFile(sub, nil, 0o600): %v", err)
					}
					return func() {
						if err := os.Remove(sub); err != nil {
							t.Fatalf("os.Remove(sub): %v", err)
						}
						if err := os.Rename(sub+".away", sub); err != nil {
							t.Fatalf("os.Rename(sub+\".away\", sub): %v", err)
						}
					}
				},
			})
		})
	}
}

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

// tricky holds values that an env file must quote.
var tricky = map[string]string{
	"NEWLINES": "line1\nline2\r\nline3\n",
	"QUOTES":   `it's "quoted" '' \' \"`,
	"EQUALS":   "a=b==c",
	"DOLLAR":   "$HOME ${PATH} $(id) `id`",
	"SPACES":   "  lead and trail  ",
	"EMPTY":    "",
	"HASH":     "#not-a-comment",
	"BACKSL":   `C:\path\`,
	"UNICODE":  "ключ-🔑",
	"BINARY":   "\x01\x7f\xff\xfe",
	"PLAIN":    "abc_DEF-0.9/+=:@%,",
}

func TestEnvRoundTripsAnyBytes(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir, "", sinks.Deps{})
	tg := bind(t, s, "{sink: local, path: k.env}")
	_, err := tg.Write(t.Context(), sinks.Write{RotationID: "r1", Data: tricky})
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	got, err := tg.Read(t.Context())
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if !reflect.DeepEqual(sinks.Secret(tricky), got) {
		t.Fatalf("got = %+v, want %+v", got, sinks.Secret(tricky))
	}

	b, err := os.ReadFile(filepath.Join(dir, "out", "k.env"))
	if err != nil {
		t.Fatalf("os.ReadFile: %v", err)
	}
	if !strings.Contains(string(b), "PLAIN=abc_DEF-0.9/+=:@%,\n") {
		t.Fatalf("got %q, want it to contain %q", string(b), "PLAIN=abc_DEF-0.9/+=:@%,\n")
	}
	if !strings.Contains(string(b), "EMPTY=''\n") {
		t.Fatalf("got %q, want it to contain %q", string(b), "EMPTY=''\n")
	}
}

// TestEnvLoadsInShell proves the env format is POSIX sh: `set -a; . file`
// gives every variable its exact value.
func TestEnvLoadsInShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("sh is required in CI")
		}
		t.Skip("no sh")
	}
	dir := t.TempDir()
	s := newSink(t, dir, "", sinks.Deps{})
	tg := bind(t, s, "{sink: local, path: k.env}")
	_, err = tg.Write(t.Context(), sinks.Write{RotationID: "r1", Data: tricky})
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	for name, want := range tricky {
		cmd := exec.Command(sh, "-c", `set -a; . "$1"; eval "printf %s \"\$$2\""`, "sh", filepath.Join(dir, "out", "k.env"), name)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(out) != want {
			t.Fatalf("%s: got %q, want %q", name, string(out), want)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir, "", sinks.Deps{})
	tg := bind(t, s, "{sink: local, path: k.txt}") // not .env: json
	data := map[string]string{}
	for k, v := range tricky {
		if k != "BINARY" {
			data[strings.ToLower(k)] = v
		}
	}
	_, err := tg.Write(t.Context(), sinks.Write{RotationID: "r1", Data: data})
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	got, err := tg.Read(t.Context())
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if !reflect.DeepEqual(sinks.Secret(data), got) {
		t.Fatalf("got = %+v, want %+v", got, sinks.Secret(data))
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

func TestReadErrorsDoNotQuoteContent(t *testing.T) {
	const secret = "sk_live_do_not_leak"
	cases := map[string]struct{ path, content, want string }{
		"json syntax":       {"k.json", `{"key": "` + secret + `" x}`, "parse json: syntax error at offset"},
		"json not strings":  {"k.json", `{"key": ["` + secret + `"]}`, "parse json: not an object of string values"},
		"json null":         {"k.json", `null`, "parse json: not an object of string values"},
		"env no equals":     {"k.env", "A=1\n" + secret + "\n", "parse env: line 2: expected NAME=value"},
		"env open quote":    {"k.env", "A='" + secret + "\n", "parse env: line 1: unterminated quote"},
		"env double quotes": {"k.env", `A="` + secret + `"`, "parse env: line 1: unsupported syntax in the value of A"},
		"env duplicate":     {"k.env", "A=" + secret + "\nA=2\n", "parse env: line 2: A is set twice"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := newSink(t, dir, "", sinks.Deps{})
			tg := bind(t, s, "{sink: local, path: "+tc.path+"}")
			if err := os.MkdirAll(filepath.Join(dir, "out"), 0o700); err != nil {
				t.Fatalf("os.MkdirAll(filepath.Join(dir, \"out\"), 0o700): %v", err)
			}
			if err := os.WriteFile(filepath.Join(dir, "out", tc.path), []byte(tc.content), 0o600); err != nil {
				t.Fatalf("os.WriteFile: %v", err)
			}
			_, err := tg.Read(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("tg.Read: got error %v, want one containing %q", err, tc.want)
			}
			sinktest.AssertNoSecret(t, err.Error(), secret)
		})
	}
}

func TestEnvReadsCommentsAndExport(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir, "", sinks.Deps{})
	tg := bind(t, s, "{sink: local, path: k.env}")
	if err := os.MkdirAll(filepath.Join(dir, "out"), 0o700); err != nil {
		t.Fatalf("os.MkdirAll(filepath.Join(dir, \"out\"), 0o700): %v", err)
	}
	content := "# written by hand\n\nexport A=1\r\nB='x'\\''y'\n"
	if err := os.WriteFile(filepath.Join(dir, "out", "k.env"), []byte(content), 0o600); err != nil {
		t.Fatalf("os.WriteFile: %v", err)
	}
	got, err := tg.Read(t.Context())
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if want := (sinks.Secret{"A": "1", "B": "x'y"}); !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
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

func TestParseConfigErrors(t *testing.T) {
	cases := map[string]struct{ src, want string }{
		"missing dir":       {`{type: file}`, "sinks.local.dir (line 1): required"},
		"unknown field":     {`{type: file, dir: x, mode: "0600", perms: 1}`, `sinks.local.perms (line 1): unknown field "perms"`},
		"mode not octal":    {`{type: file, dir: x, mode: "rw-------"}`, `sinks.local.mode (line 1): "rw-------" is not an octal permission`},
		"mode too big":      {`{type: file, dir: x, mode: "01777"}`, `is not an octal permission`},
		"mode world":        {`{type: file, dir: x, mode: "0644"}`, "0644 gives other users access to a secret"},
		"mode no owner rw":  {`{type: file, dir: x, mode: "0440"}`, "0440 does not let the owner read and write"},
		"mode executable":   {`{type: file, dir: x, mode: "0700"}`, "0700 makes a secret file executable"},
		"mode wrong type":   {`{type: file, dir: x, mode: [1]}`, "sinks.local (line 1): "},
		"vault option here": {`{type: file, dir: x, mount: secret}`, `sinks.local.mount (line 1): unknown field "mount"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := file.ParseConfig(section(t, "sinks.local", "/etc/rotator", tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("file.ParseConfig: got error %v, want one containing %q", err, tc.want)
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("want a *config.FieldError, got %T: got false, want true", err)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	cfg, err := file.ParseConfig(section(t, "sinks.local", "/etc/rotator", `{type: file, dir: ./out/}`))
	if err != nil {
		t.Fatalf("file.ParseConfig: %v", err)
	}
	if want := (file.Config{Dir: "/etc/rotator/out", Mode: 0o600}); !reflect.DeepEqual(want, cfg) {
		t.Fatalf("cfg = %+v, want %+v", cfg, want)
	}

	cfg, err = file.ParseConfig(section(t, "sinks.local", "/etc/rotator", `{type: file, dir: /abs, mode: "0o640"}`))
	if err != nil {
		t.Fatalf("file.ParseConfig: %v", err)
	}
	if want := (file.Config{Dir: "/abs", Mode: 0o640}); !reflect.DeepEqual(want, cfg) {
		t.Fatalf("cfg = %+v, want %+v", cfg, want)
	}

	cfg, err = file.ParseConfig(section(t, "sinks.local", "/etc/rotator", `{type: file, dir: /abs, mode: 0640}`))
	if err != nil {
		t.Fatalf("file.ParseConfig: %v", err)
	}
	if cfg.Mode != fs.FileMode(0o640) {
		t.Fatalf("cfg.Mode = %v, want %v", cfg.Mode, fs.FileMode(0o640))
	}
}

func TestBindErrors(t *testing.T) {
	cases := map[string]struct{ src, want string }{
		"missing path":   {`{sink: local}`, "keys[0].sinks[0].path (line 1): required"},
		"absolute path":  {`{sink: local, path: /etc/passwd}`, `keys[0].sinks[0].path (line 1): "/etc/passwd" is absolute`},
		"escaping path":  {`{sink: local, path: ../x.env}`, `"../x.env" leaves the sink's dir`},
		"sneaky escape":  {`{sink: local, path: a/../../x.env}`, `leaves the sink's dir`},
		"folder":         {`{sink: local, path: a/}`, `"a/" names a folder`},
		"dot":            {`{sink: local, path: .}`, `"." names a folder`},
		"bad format":     {`{sink: local, path: x, format: yaml}`, `keys[0].sinks[0].format (line 1): "yaml" is not one of json, env`},
		"unknown field":  {`{sink: local, path: x, mount: kv}`, `keys[0].sinks[0].mount (line 1): unknown field "mount"`},
		"vault-ish path": {`{sink: local, path: x, kv_version: 2}`, `unknown field "kv_version"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := newSink(t, t.TempDir(), "", sinks.Deps{})
			_, err := s.Bind(section(t, "keys[0].sinks[0]", "", tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("s.Bind: got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestBindFormatDefaultsAndDuplicates(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir, "", sinks.Deps{})
	env := bind(t, s, "{sink: local, path: a/k.ENV}")
	_, err := env.Write(t.Context(), sinks.Write{Data: sinks.Secret{"A": "1"}})
	if err != nil {
		t.Fatalf("env.Write: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out", "a", "k.ENV"))
	if err != nil {
		t.Fatalf("os.ReadFile: %v", err)
	}
	if string(b) != "# managed-by=rotator: written by rotator, rewritten at each rotation\nA=1\n" {
		t.Fatalf("string(b) = %q, want %q", string(b), "# managed-by=rotator: written by rotator, rewritten at each rotation\nA=1\n")
	}

	forced := bind(t, s, "{sink: local, path: k.json, format: env}")
	_, err = forced.Write(t.Context(), sinks.Write{Data: sinks.Secret{"A": "1"}})
	if err != nil {
		t.Fatalf("forced.Write: %v", err)
	}
	b, err = os.ReadFile(filepath.Join(dir, "out", "k.json"))
	if err != nil {
		t.Fatalf("os.ReadFile: %v", err)
	}
	if string(b) != "# managed-by=rotator: written by rotator, rewritten at each rotation\nA=1\n" {
		t.Fatalf("string(b) = %q, want %q", string(b), "# managed-by=rotator: written by rotator, rewritten at each rotation\nA=1\n")
	}

	_, err = s.Bind(section(t, "keys[3].sinks[0]", "", "{sink: local, path: ./a/k.ENV}"))
	if want := "keys[3].sinks[0].path (line 1): " + filepath.Join(dir, "out", "a", "k.ENV") + " is already written by keys[0].sinks[0]"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("s.Bind: got error %v, want one containing %q", err, want)
	}
}
