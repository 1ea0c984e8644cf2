package file_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
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
