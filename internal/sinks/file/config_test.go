package file_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/file"
)

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
