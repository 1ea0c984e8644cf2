package hooks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/rotate"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// rig is a Runner with observed logs and its own registry.
type rig struct {
	t    *testing.T
	r    *Runner
	reg  *prometheus.Registry
	logs *observer.ObservedLogs
}

func newRig(t *testing.T, o Options) *rig {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	g := &rig{t: t, reg: prometheus.NewRegistry(), logs: logs}
	o.Logger, o.Registerer = zap.New(core), g.reg
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	g.r = r
	t.Cleanup(r.Close)
	return g
}

// runs is rotator_hook_runs_total for one label set.
func (g *rig) runs(hook, event, result string) float64 {
	return testutil.ToFloat64(g.r.metrics.runs.WithLabelValues(hook, event, result))
}

// waitRuns waits (real time) until hook has run n times in all.
func (g *rig) waitRuns(hook string, n int) {
	g.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		total := 0.0
		for _, ev := range config.Events {
			for _, res := range results {
				total += g.runs(hook, ev, res)
			}
		}
		if int(total) >= n {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("hook %s ran %v times, want %d; logs:\n%s", hook, total, n, g.logText())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (g *rig) logText() string {
	var b strings.Builder
	for _, e := range g.logs.All() {
		b.WriteString(e.Message)
		for k, v := range e.ContextMap() {
			b.WriteString(" " + k + "=")
			b.WriteString(strings.ReplaceAll(toString(v), "\n", `\n`))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// script writes an executable shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func event(name, key, id string, old ...string) rotate.HookEvent {
	return rotate.HookEvent{Time: t0, Event: name, Key: key, KeyID: id, OldKeyIDs: old, Targets: []string{"file /out/mail.json", "vault kv/app"}}
}

func keyWith(name string, refs ...config.HookRef) config.Key {
	return config.Key{Name: name, Hooks: refs}
}
