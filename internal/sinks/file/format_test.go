package file_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
)

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
