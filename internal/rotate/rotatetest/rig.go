// Package rotatetest is the one way tests build an engine: a Rig is one
// managed key ("mail") rotated by a real rotate.Engine on a fake clock,
// with a state store that survives a simulated crash and restart, an
// observed logger, its own metrics registry, and failpoints that can
// kill the engine mid-step. The defaults are an in-memory provider and
// two in-memory sink targets over a bbolt state file; provider tests pass
// their own provider and targets, store tests their own backend.
package rotatetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/providertest"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
	"github.com/rotator-dev/rotator/internal/state"
)

// T0 is when every default rig's clock starts.
var T0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// Options shape a rig; the zero value is the default rig.
type Options struct {
	// Clock defaults to a fake clock at T0.
	Clock *clockwork.FakeClock
	// Key changes the default key: "mail" at provider "mem", every 24h,
	// grace 1h, keep-alive 6h, timeout 1m, prefix "rotator-". A changed
	// ScheduleSpec is parsed into Schedule (a Schedule set alone is kept).
	Key func(*config.Key)
	// Provider is the key's provider, registered under the key's Provider
	// name; nil is a providertest.Memory (Rig.Prov).
	Provider providers.Provider
	// Targets are the key's sink targets; nil is two memory targets, sinks
	// "a" and "b" (Rig.Memory).
	Targets []rotate.BoundTarget
	// Open opens the state store, again at every restart; nil is a bbolt
	// file in t.TempDir() (Rig.Path). A store that is a rotate.Leadership
	// (a leader's fenced store) is also the engine's Leadership.
	Open func() (state.Backend, error)
	// Core is the engine's log core; nil is an observer (Rig.Logs).
	Core zapcore.Core
	// NoEvents keeps no audit trail (Options.Events is the store by
	// default): each event is a synced write of the state file, which
	// makes a test that never reads the trail several times slower.
	NoEvents bool
	// Engine, when set, adjusts the engine's options before every start.
	Engine func(*rotate.Options)
}

// Rig is one engine and its world. Its fields are the parts under test;
// Restart replaces Store, Engine, Reg and Metrics.
type Rig struct {
	t     *testing.T
	Clock *clockwork.FakeClock
	Key   config.Key
	// Provider is the key's provider; Prov is it when it is the default
	// in-memory one.
	Provider providers.Provider
	Prov     *providertest.Memory
	// Targets are the key's targets; Memory is them when they are the
	// default in-memory ones.
	Targets []rotate.BoundTarget
	Memory  []*sinktest.MemoryTarget
	Store   state.Backend
	// Path is the default store's file ("" with Options.Open).
	Path    string
	Engine  *rotate.Engine
	Reg     *prometheus.Registry
	Metrics *rotate.Metrics
	Core    zapcore.Core
	Logs    *observer.ObservedLogs // nil with Options.Core
	// CrashAt makes the engine panic at that failpoint: a simulated kill
	// (Eval reports it). Restart clears it.
	CrashAt string
	// Failpoint, when set, runs at every failpoint before CrashAt is
	// checked.
	Failpoint func(point string)
	// Tweak adjusts the engine's options at every start (Options.Engine
	// at first).
	Tweak func(*rotate.Options)
	// Errs is every error Eval returned, for leak checks.
	Errs     []error
	open     func() (state.Backend, error)
	noEvents bool
}

type crash struct{ point string }

// New builds the rig and starts its engine; the store is closed when the
// test ends.
func New(t *testing.T, o Options) *Rig {
	t.Helper()
	r := &Rig{t: t, Clock: o.Clock, Provider: o.Provider, Targets: o.Targets, open: o.Open, Core: o.Core, Tweak: o.Engine,
		noEvents: o.NoEvents}
	if r.Clock == nil {
		r.Clock = clockwork.NewFakeClockAt(T0)
	}
	r.Key = DefaultKey(t)
	if o.Key != nil {
		o.Key(&r.Key)
	}
	if r.Key.ScheduleSpec != defaultSpec {
		r.Key.Schedule = schedule(t, r.Key.ScheduleSpec)
	}
	if r.Provider == nil {
		r.Prov = providertest.NewMemory(r.Clock.Now)
		r.Provider = &r.Prov.Provider
	}
	if r.Targets == nil {
		for _, sink := range []string{"a", "b"} {
			tg := sinktest.NewMemoryTarget(sink)
			r.Memory = append(r.Memory, tg)
			r.Targets = append(r.Targets, rotate.BoundTarget{Sink: sink, Target: tg})
		}
	}
	if r.open == nil {
		r.Path = filepath.Join(t.TempDir(), "state.db")
		r.open = func() (state.Backend, error) { return state.Open(r.Path, state.Options{}) }
	}
	if r.Core == nil {
		r.Core, r.Logs = observer.New(zap.DebugLevel)
	}
	r.Start()
	t.Cleanup(func() {
		if r.Store != nil {
			r.Store.Close()
		}
	})
	return r
}

const defaultSpec = "@every 24h"

// DefaultKey is the default rig's key: "mail" at provider "mem", every
// 24h, grace 1h, keep-alive 6h, timeout 1m, prefix "rotator-".
func DefaultKey(t *testing.T) config.Key {
	t.Helper()
	return config.Key{Name: "mail", Provider: "mem", ScheduleSpec: defaultSpec, Schedule: schedule(t, defaultSpec),
		Grace: time.Hour, KeepAlive: 6 * time.Hour, Timeout: time.Minute, NamePrefix: "rotator-"}
}

func schedule(t *testing.T, spec string) cron.Schedule {
	t.Helper()
	sched, err := config.ParseSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	return sched
}

// Start opens the store and builds a new engine over it, with a new
// metrics registry.
func (r *Rig) Start() {
	r.t.Helper()
	st, err := r.open()
	if err != nil {
		r.t.Fatalf("open the store: %v", err)
	}
	r.Store = st
	r.Reg = prometheus.NewRegistry()
	r.Metrics = rotate.NewMetrics(r.Reg)
	key := r.Key
	o := rotate.Options{
		Keys:      []*rotate.Managed{{Policy: key, Provider: r.Provider, Targets: append([]rotate.BoundTarget(nil), r.Targets...)}},
		Providers: map[string]providers.Provider{key.Provider: r.Provider},
		Store:     st, Logger: zap.New(r.Core), Metrics: r.Metrics, Clock: r.Clock,
		RetryBase: 30 * time.Second, RetryMax: 10 * time.Minute, Failpoint: r.failpoint,
	}
	if !r.noEvents {
		o.Events = st
	}
	if l, ok := st.(rotate.Leadership); ok {
		o.Leadership = l
	}
	if r.Tweak != nil {
		r.Tweak(&o)
	}
	if r.Engine, err = rotate.New(o); err != nil {
		r.t.Fatalf("rotate.New: %v", err)
	}
}

func (r *Rig) failpoint(p string) {
	if r.Failpoint != nil {
		r.Failpoint(p)
	}
	if p == r.CrashAt {
		panic(crash{p})
	}
}

// Restart is a new process on the same store: the store is closed and
// opened again, and a new engine has none of the old one's memory.
func (r *Rig) Restart() {
	r.t.Helper()
	if err := r.Store.Close(); err != nil {
		r.t.Fatal(err)
	}
	r.CrashAt = ""
	r.Start()
}

// Eval runs one evaluation of the key; crashed reports a simulated kill
// at CrashAt.
func (r *Rig) Eval(mode rotate.Mode) (out rotate.Outcome, err error, crashed bool) {
	r.t.Helper()
	func() {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(crash); !ok {
					panic(p)
				}
				crashed = true
			}
		}()
		out, err = r.Engine.Evaluate(context.Background(), r.Key.Name, mode)
	}()
	if err != nil {
		r.Errs = append(r.Errs, err)
	}
	return out, err, crashed
}

// MustEval runs one evaluation that must succeed.
func (r *Rig) MustEval(mode rotate.Mode) rotate.Outcome {
	r.t.Helper()
	out, err, crashed := r.Eval(mode)
	if err != nil || crashed {
		r.t.Fatalf("evaluate: err=%v crashed=%v", err, crashed)
	}
	return out
}

// State is the key's record in the store.
func (r *Rig) State() state.Key {
	r.t.Helper()
	st, err := r.Store.Get(r.Key.Name)
	if err != nil {
		r.t.Fatal(err)
	}
	return st
}
