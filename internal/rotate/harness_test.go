package rotate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/providertest"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
	"github.com/rotator-dev/rotator/internal/state"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// harness is one managed key "mail" at an in-memory provider with two
// in-memory sink targets, on a fake clock and a real state file.
type harness struct {
	t       *testing.T
	clock   *clockwork.FakeClock
	path    string
	store   *state.Store
	prov    *providertest.Memory
	targets []*sinktest.MemoryTarget
	key     config.Key
	reg     *prometheus.Registry
	logs    *observer.ObservedLogs
	core    zapcore.Core
	e       *Engine
	// crashAt makes the engine panic at that failpoint (a simulated kill).
	crashAt string
	errs    []error
	// onIdle becomes Options.OnIdle.
	onIdle func()
}

type crash struct{ point string }

func newHarness(t *testing.T, mutate func(*config.Key)) *harness {
	t.Helper()
	sched, err := config.ParseSchedule("@every 24h")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		t:     t,
		clock: clockwork.NewFakeClockAt(t0),
		path:  filepath.Join(t.TempDir(), "state.db"),
		key: config.Key{Name: "mail", Provider: "mem", ScheduleSpec: "@every 24h", Schedule: sched,
			Grace: time.Hour, KeepAlive: 6 * time.Hour, Timeout: time.Minute, NamePrefix: "rotator-"},
	}
	if mutate != nil {
		mutate(&h.key)
	}
	h.prov = providertest.NewMemory(h.clock.Now)
	h.targets = []*sinktest.MemoryTarget{sinktest.NewMemoryTarget("a"), sinktest.NewMemoryTarget("b")}
	h.core, h.logs = observer.New(zap.DebugLevel)
	h.start()
	t.Cleanup(func() {
		if h.store != nil {
			h.store.Close()
		}
	})
	return h
}

func (h *harness) start() {
	h.t.Helper()
	st, err := state.Open(h.path, state.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.store = st
	h.reg = prometheus.NewRegistry()
	m := &Managed{Policy: h.key, Provider: &h.prov.Provider}
	for i, tg := range h.targets {
		m.Targets = append(m.Targets, BoundTarget{Sink: []string{"a", "b"}[i], Target: tg})
	}
	e, err := New(Options{
		Keys: []*Managed{m}, Providers: map[string]providers.Provider{"mem": &h.prov.Provider},
		Store: h.store, Events: h.store, Logger: zap.New(h.core), Metrics: NewMetrics(h.reg), Clock: h.clock,
		RetryBase: 30 * time.Second, RetryMax: 10 * time.Minute, OnIdle: h.onIdle,
		Failpoint: func(p string) {
			if p == h.crashAt {
				panic(crash{p})
			}
		},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.e = e
}

// restart simulates a new process on the same state file: the engine and
// its memory are gone.
func (h *harness) restart() {
	h.t.Helper()
	if err := h.store.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.crashAt = ""
	h.start()
}

// eval runs one evaluation; a simulated crash returns crashed=true.
func (h *harness) eval(mode Mode) (out Outcome, err error, crashed bool) {
	h.t.Helper()
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(crash); !ok {
					panic(r)
				}
				crashed = true
			}
		}()
		out, err = h.e.Evaluate(context.Background(), "mail", mode)
	}()
	if err != nil {
		h.errs = append(h.errs, err)
	}
	return out, err, crashed
}

func (h *harness) mustEval(mode Mode) Outcome {
	h.t.Helper()
	out, err, crashed := h.eval(mode)
	if err != nil || crashed {
		h.t.Fatalf("evaluate: err=%v crashed=%v", err, crashed)
	}
	return out
}

func (h *harness) state() state.Key {
	h.t.Helper()
	st, err := h.store.Get("mail")
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// checkSafety asserts what must hold at every moment: no sink holds a
// revoked key, and every active key at the provider is tracked.
func (h *harness) checkSafety(when string) {
	h.t.Helper()
	st := h.state()
	for _, id := range h.prov.Active() {
		// A key created under the recorded intent name, or under a
		// watched name, is tracked by that name.
		if info, _ := h.prov.Get(id); !st.Tracks(id, info.Name) {
			h.t.Errorf("%s: active key %s (%s) is not tracked; provider: %s", when, id, info.Name, h.prov)
		}
	}
	for i, tg := range h.targets {
		s, err := tg.Current()
		if err != nil {
			continue
		}
		if !h.prov.Valid(providers.Credential{"api_key": s["api_key"]}) {
			h.t.Errorf("%s: sink %d holds key %s, which the provider no longer accepts", when, i, s[FieldKeyID])
		}
	}
}

// checkConverged asserts the steady state: one active key, current, in
// every sink.
func (h *harness) checkConverged(when string) {
	h.t.Helper()
	st := h.state()
	if st.Current == nil || st.Rotation != nil || len(st.Retiring) != 0 {
		h.t.Fatalf("%s: not converged: current=%v rotation=%v retiring=%d", when, st.Current, st.Rotation, len(st.Retiring))
	}
	if got := h.prov.Active(); len(got) != 1 || got[0] != st.Current.ID {
		h.t.Errorf("%s: active keys %v, want only the current %s", when, got, st.Current.ID)
	}
	for i, tg := range h.targets {
		s, err := tg.Current()
		if err != nil {
			h.t.Fatalf("%s: sink %d: %v", when, i, err)
		}
		if s[FieldKeyID] != st.Current.ID {
			h.t.Errorf("%s: sink %d holds %s, want current %s", when, i, s[FieldKeyID], st.Current.ID)
		}
	}
}

// checkNoSecretLeaked asserts that no issued secret is in any log line,
// any error seen, or the state file.
func (h *harness) checkNoSecretLeaked() {
	h.t.Helper()
	var text strings.Builder
	for _, e := range h.logs.All() {
		text.WriteString(e.Message)
		for _, f := range e.Context {
			text.WriteString(" " + f.Key + "=" + f.String)
			if f.Interface != nil {
				if err, ok := f.Interface.(error); ok {
					text.WriteString(err.Error())
				}
			}
		}
		text.WriteString("\n")
	}
	for _, err := range h.errs {
		text.WriteString(err.Error() + "\n")
	}
	file, err := os.ReadFile(h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	issued := h.prov.Issued()
	if len(issued) == 0 {
		h.t.Fatal("no secret was issued: the leak check would prove nothing")
	}
	for _, s := range issued {
		if strings.Contains(text.String(), s) {
			h.t.Errorf("secret %s... leaked into logs or errors", s[:6])
		}
		if bytes.Contains(file, []byte(s)) {
			h.t.Errorf("secret %s... is in the state file", s[:6])
		}
	}
}

// sinkOf returns what target i holds.
func (h *harness) sinkOf(i int) sinks.Secret {
	s, err := h.targets[i].Current()
	if err != nil {
		h.t.Fatalf("sink %d: %v", i, err)
	}
	return s
}

func withCurrent(created time.Time) state.Key {
	return state.Key{Name: "k", Current: &state.ProviderKey{ID: "1", CreatedAt: created}, LastSuccessAt: created}
}
