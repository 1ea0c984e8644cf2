package wire

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
)

// Build reads the configuration and changes nothing in it: the same
// loaded policy wires again to the same targets, and what Build returns
// holds no target section (the engine works from the bound targets).
func TestBuildLeavesItsInputAlone(t *testing.T) {
	cfg, err := config.Load(strings.NewReader(policy), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	deps := Deps{Logger: zap.NewNop(), Clock: clockwork.NewFakeClock(), UserAgent: "test"}
	first, err := Build(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	for _, secs := range [][]config.Section{cfg.Providers, cfg.Sinks} {
		for _, s := range secs {
			if s.Node == nil {
				t.Errorf("%s: Build dropped the section's YAML from its input", s.Path)
			}
		}
	}
	for _, k := range cfg.Keys {
		for _, tg := range k.Targets {
			if tg.Section.Node == nil {
				t.Errorf("%s: Build dropped the target's YAML from its input", tg.Section.Path)
			}
		}
	}
	second, err := Build(cfg, deps)
	if err != nil {
		t.Fatalf("wiring the same policy again: %v", err)
	}
	if got, want := targetsOf(second), targetsOf(first); got != want {
		t.Errorf("wired again: %s; first: %s", got, want)
	}
	for _, m := range first.Keys {
		if m.Policy.Targets != nil {
			t.Errorf("%s: the built key's policy keeps its target sections", m.Policy.Name)
		}
	}
}

// Each bound target carries its options, whoever calls Build (start-up,
// reload, state rebuild), so that the state records them for retire.
func TestBuildGivesEachTargetItsOptions(t *testing.T) {
	b, err := build(t, policy)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"send": `{"format":"env","path":"send.env"}`, "mail": `{"path":"mail.json"}`}
	for _, m := range b.Keys {
		if got := m.Targets[0].Spec; got != want[m.Policy.Name] {
			t.Errorf("%s: spec %s, want %s", m.Policy.Name, got, want[m.Policy.Name])
		}
	}
}

func targetsOf(b *Built) string {
	var s []string
	for _, m := range b.Keys {
		for _, t := range m.Targets {
			s = append(s, m.Policy.Name+"→"+t.Target.String())
		}
	}
	return strings.Join(s, ", ")
}

// BenchmarkBuild10kKeys wires a 10,000-key policy (file targets) and
// reports the heap the result keeps once the loaded policy is garbage, as
// the daemon keeps it (config.Settings): the part of the idle budget of
// docs/performance.md that wire decides. Over 700 B a key (591 measured), something of
// the policy's YAML, or a second copy of the keys, outlives wiring.
func BenchmarkBuild10kKeys(b *testing.B) {
	const n = 10000
	var yml strings.Builder
	yml.WriteString("providers:\n  p: {type: smtpd, base_url: \"https://api.smtpd.dev\", username: u, password: p}\n")
	yml.WriteString("sinks:\n  out: {type: file, dir: ./out}\nkeys:\n")
	for i := range n {
		fmt.Fprintf(&yml, "  - {name: k%05d, provider: p, params: {role: send_only}, sinks: [{sink: out, path: k%05d.env, format: env}]}\n", i, i)
	}
	dir := b.TempDir()
	deps := Deps{Logger: zap.NewNop(), Clock: clockwork.NewFakeClock(), UserAgent: "bench"}
	load := func() *config.Config {
		cfg, err := config.Load(strings.NewReader(yml.String()), dir)
		if err != nil {
			b.Fatal(err)
		}
		return cfg
	}
	for b.Loop() {
		b.StopTimer()
		cfg := load()
		b.StartTimer()
		if _, err := Build(cfg, deps); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	before := liveHeap()
	cfg := load()
	built, err := Build(cfg, deps)
	if err != nil {
		b.Fatal(err)
	}
	settings := cfg.Settings()
	cfg = nil // from here on only the settings and the wired policy are reachable, as in the daemon
	perKey := float64(liveHeap()-before) / n
	runtime.KeepAlive(built)
	runtime.KeepAlive(settings)
	b.ReportMetric(perKey, "retained-B/key")
	if perKey > 700 {
		b.Errorf("the wired policy keeps %.0f B a key once the loaded policy is garbage; budget 700 (docs/performance.md)", perKey)
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
