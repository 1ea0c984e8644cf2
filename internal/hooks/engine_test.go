package hooks

import (
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap/zapcore"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/rotate/rotatetest"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
)

// engineRig is the real engine (the shared rotatetest rig) with a Runner
// as its Notifier: key "mail" at an in-memory provider, one in-memory
// target, a fake clock.
type engineRig struct {
	*rig
	clock *clockwork.FakeClock
	eng   *rotatetest.Rig
}

func newEngineRig(t *testing.T, hooks []config.Hook, refs ...config.HookRef) *engineRig {
	t.Helper()
	clock := clockwork.NewFakeClockAt(t0)
	key := rotatetest.DefaultKey(t)
	key.KeepAlive, key.Hooks = 0, refs
	key.Revocation = config.Revocation{When: config.RevokeAfterGrace, MaxGrace: 48 * time.Hour, OnMaxGrace: config.OnMaxGraceRevoke}
	g := &engineRig{rig: newRig(t, Options{Hooks: hooks, Keys: []config.Key{key}, Clock: clock}), clock: clock}
	g.eng = rotatetest.New(t, rotatetest.Options{Clock: clock, Key: func(k *config.Key) { *k = key }, NoEvents: true,
		Targets: []rotate.BoundTarget{{Sink: "mem", Target: sinktest.NewMemoryTarget("a")}}, Core: zapcore.NewNopCore(),
		Engine: func(o *rotate.Options) { o.Notifier = g.r }})
	g.r.Start(g.eng.Engine.HookSucceeded)
	return g
}

func (g *engineRig) eval() rotate.Outcome {
	g.t.Helper()
	return g.eng.MustEval(rotate.Mode{})
}

// rotateOnce creates the first key, rotates it a day later, lets its
// grace pass and waits for the hook's runs on both converged events; it
// returns the superseded key.
func (g *engineRig) rotateOnce(hook string) string {
	g.t.Helper()
	g.eval()
	g.waitRuns(hook, 1)
	old := g.eng.State().Current.ID
	g.clock.Advance(24 * time.Hour)
	g.eval()
	g.waitRuns(hook, 2)
	g.clock.Advance(2 * time.Hour) // grace (1h) is over
	g.eval()
	return old
}

func (g *engineRig) active(id string) bool {
	info, err := g.eng.Prov.Get(id)
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
			t.Fatalf("the old key was not revoked after the blocking hook succeeded: %+v", g.eng.State().Retiring)
		}
	})
}
