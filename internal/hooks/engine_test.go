package hooks

import (
	"context"
	"path/filepath"
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

// engineRig is the real engine with a Runner as its Notifier: key "mail"
// at an in-memory provider, one in-memory target, a fake clock.
type engineRig struct {
	*rig
	clock *clockwork.FakeClock
	prov  *providertest.Memory
	store *state.Store
	e     *rotate.Engine
}

func newEngineRig(t *testing.T, hooks []config.Hook, refs ...config.HookRef) *engineRig {
	t.Helper()
	clock := clockwork.NewFakeClockAt(t0)
	sched, err := config.ParseSchedule("@every 24h")
	if err != nil {
		t.Fatal(err)
	}
	key := config.Key{Name: "mail", Provider: "mem", ScheduleSpec: "@every 24h", Schedule: sched, Grace: time.Hour,
		Timeout: time.Minute, NamePrefix: "rotator-", Hooks: refs,
		Revocation: config.Revocation{When: config.RevokeAfterGrace, MaxGrace: 48 * time.Hour, OnMaxGrace: config.OnMaxGraceRevoke}}
	g := &engineRig{rig: newRig(t, Options{Hooks: hooks, Keys: []config.Key{key}, Clock: clock}), clock: clock,
		prov: providertest.NewMemory(clock.Now)}
	if g.store, err = state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.store.Close() })
	g.e, err = rotate.New(rotate.Options{
		Keys:      []*rotate.Managed{{Policy: key, Provider: &g.prov.Provider, Targets: []rotate.BoundTarget{{Sink: "mem", Target: sinktest.NewMemoryTarget("a")}}}},
		Providers: map[string]providers.Provider{"mem": &g.prov.Provider}, Store: g.store, Logger: zap.NewNop(),
		Metrics: rotate.NewMetrics(prometheus.NewRegistry()), Clock: clock, Notifier: g.r,
	})
	if err != nil {
		t.Fatal(err)
	}
	g.r.Start(g.e.HookSucceeded)
	return g
}

func (g *engineRig) eval() rotate.Outcome {
	g.t.Helper()
	out, err := g.e.Evaluate(context.Background(), "mail", rotate.Mode{})
	if err != nil {
		g.t.Fatal(err)
	}
	return out
}

// rotateOnce creates the first key, rotates it a day later, lets its
// grace pass and waits for the hook's runs on both converged events; it
// returns the superseded key.
func (g *engineRig) rotateOnce(hook string) string {
	g.t.Helper()
	g.eval()
	g.waitRuns(hook, 1)
	old := mustState(g.t, g.store).Current.ID
	g.clock.Advance(24 * time.Hour)
	g.eval()
	g.waitRuns(hook, 2)
	g.clock.Advance(2 * time.Hour) // grace (1h) is over
	g.eval()
	return old
}

func mustState(t *testing.T, s *state.Store) state.Key {
	t.Helper()
	st, err := s.Get("mail")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (g *engineRig) active(id string) bool {
	info, err := g.prov.Get(id)
	return err == nil && info.Active
}

// An exec hook that fails holds the old key's revocation with
// block_revocation: true, and does not without it; one that succeeds
// releases it through Engine.HookSucceeded.
func TestBlockRevocationWithTheEngine(t *testing.T) {
	fail := execHook("restart", script(t, "exit 1"))
	t.Run("failing hook blocks", func(t *testing.T) {
		g := newEngineRig(t, []config.Hook{fail}, config.HookRef{Hook: "restart", On: []string{config.EventConverged}, BlockRevocation: true})
		old := g.rotateOnce("restart")
		if !g.active(old) {
			t.Fatal("the old key was revoked although the blocking hook failed")
		}
		if g.runs("restart", "converged", "failure") != 2 {
			t.Errorf("runs:\n%s", g.logText())
		}
	})
	t.Run("failing hook without block_revocation", func(t *testing.T) {
		g := newEngineRig(t, []config.Hook{fail}, config.HookRef{Hook: "restart", On: []string{config.EventConverged}})
		if old := g.rotateOnce("restart"); g.active(old) {
			t.Fatal("the old key was not revoked after its grace")
		}
	})
	t.Run("succeeding hook releases", func(t *testing.T) {
		ok := execHook("restart", script(t, "exit 0"))
		g := newEngineRig(t, []config.Hook{ok}, config.HookRef{Hook: "restart", On: []string{config.EventConverged}, BlockRevocation: true})
		if old := g.rotateOnce("restart"); g.active(old) {
			t.Fatalf("the old key was not revoked after the blocking hook succeeded: %+v", mustState(t, g.store).Retiring)
		}
	})
}
