package storetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/providertest"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
	"github.com/rotator-dev/rotator/internal/state"
)

// crashWorld is one key, "mail", at an in-memory provider with two
// in-memory sink targets, rotated by an engine over the backend's store on
// a fake clock. A crash is a panic at a failpoint; the process's restart
// is the store closed and opened again at the same location, and a new
// engine: only what the store kept survives.
type crashWorld struct {
	t       *testing.T
	loc     Location
	clock   *clockwork.FakeClock
	prov    *providertest.Memory
	targets []*sinktest.MemoryTarget
	key     config.Key
	store   Store
	e       *rotate.Engine
	crashAt string
}

type crash struct{ point string }

func newCrashWorld(t *testing.T, b Backend) *crashWorld {
	t.Helper()
	sched, err := config.ParseSchedule("@every 24h")
	if err != nil {
		t.Fatal(err)
	}
	w := &crashWorld{t: t, loc: b.New(t), clock: clockwork.NewFakeClockAt(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)),
		key: config.Key{Name: "mail", Provider: "mem", ScheduleSpec: "@every 24h", Schedule: sched,
			Grace: time.Hour, KeepAlive: 6 * time.Hour, Timeout: time.Minute, NamePrefix: "rotator-"}}
	w.prov = providertest.NewMemory(w.clock.Now)
	w.targets = []*sinktest.MemoryTarget{sinktest.NewMemoryTarget("a"), sinktest.NewMemoryTarget("b")}
	w.start()
	t.Cleanup(func() { w.store.Close() })
	return w
}

// start opens the store and builds a new engine over it.
func (w *crashWorld) start() {
	w.t.Helper()
	s, err := w.loc.Open()
	if err != nil {
		w.t.Fatalf("open: %v", err)
	}
	w.store = s
	m := &rotate.Managed{Policy: w.key, Provider: &w.prov.Provider}
	for i, tg := range w.targets {
		m.Targets = append(m.Targets, rotate.BoundTarget{Sink: []string{"a", "b"}[i], Target: tg})
	}
	var lead rotate.Leadership
	if l, ok := s.(rotate.Leadership); ok { // a leader's fenced store
		lead = l
	}
	w.e, err = rotate.New(rotate.Options{
		Keys: []*rotate.Managed{m}, Providers: map[string]providers.Provider{"mem": &w.prov.Provider},
		Store: s, Events: s, Leadership: lead, Logger: zap.NewNop(), Metrics: rotate.NewMetrics(prometheus.NewRegistry()),
		Clock: w.clock, RetryBase: 30 * time.Second, RetryMax: 10 * time.Minute,
		Failpoint: func(p string) {
			if p == w.crashAt {
				panic(crash{p})
			}
		},
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// restart is a new process on the same location.
func (w *crashWorld) restart() {
	w.t.Helper()
	if err := w.store.Close(); err != nil {
		w.t.Fatal(err)
	}
	w.crashAt = ""
	w.start()
}

// eval runs one evaluation; crashed reports a simulated kill.
func (w *crashWorld) eval() (err error, crashed bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	_, err = w.e.Evaluate(context.Background(), "mail", rotate.Mode{})
	return err, false
}

func (w *crashWorld) state() state.Key {
	w.t.Helper()
	st, err := w.store.Get("mail")
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

// testCrashAtEveryFailpoint kills the engine at every side-effect
// boundary of a rotation and of the revocation after it, restarts it on
// what the store kept, and checks that it converges: no key at the
// provider the store does not track (by id, intent name or watched name),
// no sink holding a key the provider rejects, one active key in every
// sink at the end, and no secret in any record or event.
func testCrashAtEveryFailpoint(t *testing.T, b Backend) {
	for _, point := range rotate.Failpoints {
		t.Run(point, func(t *testing.T) {
			w := newCrashWorld(t, b)
			w.mustEval("the first key")
			w.checkConverged("before the crash")
			w.crashAt = point
			w.clock.Advance(24 * time.Hour)
			_, crashed := w.eval()
			if !crashed && strings.Contains(point, "revoke") {
				w.clock.Advance(time.Hour) // the revocation comes after the grace
				_, crashed = w.eval()
			}
			if !crashed {
				t.Fatalf("failpoint %s was never reached", point)
			}
			w.checkSafety("right after the crash")
			w.restart()
			for i := 0; i < 5; i++ {
				_, _ = w.eval() // a step may fail once (a watched name), then succeed
				w.checkSafety("after the restart")
				w.clock.Advance(time.Hour)
			}
			w.checkConverged("after recovery")
			if got := w.state().Rotations; got < 2 {
				t.Errorf("%d rotations completed, want at least 2", got)
			}
			w.checkNoSecretStored()
		})
	}
}

func (w *crashWorld) mustEval(what string) {
	w.t.Helper()
	if err, crashed := w.eval(); err != nil || crashed {
		w.t.Fatalf("%s: err=%v crashed=%v", what, err, crashed)
	}
}

// checkSafety: every active key at the provider is tracked, and no sink
// holds a key the provider no longer accepts.
func (w *crashWorld) checkSafety(when string) {
	w.t.Helper()
	st := w.state()
	for _, id := range w.prov.Active() {
		if info, _ := w.prov.Get(id); !st.Tracks(id, info.Name) {
			w.t.Errorf("%s: active key %s (%s) is not tracked", when, id, info.Name)
		}
	}
	for i, tg := range w.targets {
		if s, err := tg.Current(); err == nil && !w.prov.Valid(providers.Credential{"api_key": s["api_key"]}) {
			w.t.Errorf("%s: sink %d holds key %s, which the provider no longer accepts", when, i, s[rotate.FieldKeyID])
		}
	}
}

// checkConverged: one active key, current, in every sink.
func (w *crashWorld) checkConverged(when string) {
	w.t.Helper()
	st := w.state()
	if st.Current == nil || st.Rotation != nil || len(st.Retiring) != 0 {
		w.t.Fatalf("%s: not converged: current=%v rotation=%v retiring=%d", when, st.Current, st.Rotation, len(st.Retiring))
	}
	if got := w.prov.Active(); len(got) != 1 || got[0] != st.Current.ID {
		w.t.Errorf("%s: active keys %v, want only the current %s", when, got, st.Current.ID)
	}
	for i, tg := range w.targets {
		s, err := tg.Current()
		if err != nil || s[rotate.FieldKeyID] != st.Current.ID {
			w.t.Errorf("%s: sink %d holds %v (%v), want the current %s", when, i, s[rotate.FieldKeyID], err, st.Current.ID)
		}
	}
}

// checkNoSecretStored: no issued secret in a record or an event.
func (w *crashWorld) checkNoSecretStored() {
	w.t.Helper()
	all, err := w.store.All()
	if err != nil {
		w.t.Fatal(err)
	}
	evs, err := w.store.Events("", time.Time{})
	if err != nil {
		w.t.Fatal(err)
	}
	text, _ := json.Marshal([]any{all, evs})
	for _, s := range w.prov.Issued() {
		if strings.Contains(string(text), s) {
			w.t.Errorf("secret %s... is in the store", s[:6])
		}
	}
}
