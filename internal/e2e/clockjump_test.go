package e2e

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/rotate/rotatetest"
	"github.com/rotator-dev/rotator/internal/state"
)

// TestClockJumps proves on the engine, with a fake clock (the binary uses
// the real one), what a system clock jumping a day forward or back does:
// forward, the overdue revocation happens once every sink holds the newer
// key, exactly one catch-up rotation runs (not one per missed interval),
// and the key it supersedes still gets its full grace period, counted
// from the jump; back, nothing is revoked early and nothing rotates.
func TestClockJumps(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	r := rotatetest.New(t, rotatetest.Options{Core: core, NoEvents: true,
		Key:    func(k *config.Key) { k.ScheduleSpec, k.KeepAlive = "@every 6h", 2*time.Hour },
		Engine: func(o *rotate.Options) { o.RetryBase, o.RetryMax = time.Minute, time.Hour }})
	clock, prov := r.Clock, r.Prov
	eval := func(what string) rotate.Outcome {
		t.Helper()
		out, err, _ := r.Eval(rotate.Mode{})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, tg := range r.Memory {
			s, err := tg.Current()
			if err == nil && !prov.Valid(providers.Credential{"api_key": s["api_key"]}) {
				t.Errorf("%s: sink %s holds key %s, which the provider rejects", what, tg.Name, s["key_id"])
			}
		}
		return out
	}
	get := func() state.Key { return r.State() }

	eval("first key")
	clock.Advance(6 * time.Hour)
	if !eval("scheduled rotation").Rotated {
		t.Fatal("no rotation after 6h")
	}
	st := get()
	k1, k2 := st.Retiring[0].ID, st.Current.ID

	// Forward a day: k1 was due 23h ago, k2 is 18h overdue for rotation.
	clock.Advance(24 * time.Hour)
	jumped := clock.Now()
	out := eval("after the jump forward")
	st = get()
	if !out.Rotated || out.Revoked != 1 {
		t.Errorf("after the jump: rotated=%v revoked=%d, want one catch-up rotation and k1 revoked", out.Rotated, out.Revoked)
	}
	if info, _ := prov.Get(k1); info.Active {
		t.Error("k1 is still active after its deadline passed")
	}
	if len(st.Retiring) != 1 || st.Retiring[0].ID != k2 || !st.Retiring[0].RevokeAfter.Equal(jumped.Add(time.Hour)) {
		t.Errorf("retiring = %+v, want k2 with its full grace from the jump (%s)", st.Retiring, jumped.Add(time.Hour))
	}
	if info, _ := prov.Get(k2); !info.Active {
		t.Error("k2 was revoked at once: it lost its grace period")
	}
	if n := prov.Calls("create"); n != 3 {
		t.Errorf("%d creates, want 3: a jump must cause one catch-up rotation, not one per missed interval", n)
	}
	if again := eval("right after"); again.Rotated || again.Revoked != 0 {
		t.Errorf("a second pass right after the jump: rotated=%v revoked=%d, want nothing", again.Rotated, again.Revoked)
	}

	// Back a day: k2's deadline is now a day away; nothing is revoked
	// early and nothing rotates.
	clock.Advance(-24 * time.Hour)
	if out := eval("after the jump back"); out.Rotated || out.Revoked != 0 {
		t.Errorf("after the jump back: rotated=%v revoked=%d, want nothing", out.Rotated, out.Revoked)
	}
	if info, _ := prov.Get(k2); !info.Active {
		t.Error("k2 was revoked after the clock went back")
	}
	// Forward again past k2's deadline: it goes.
	clock.Advance(24*time.Hour + time.Hour)
	if out := eval("past k2's deadline"); out.Revoked != 1 {
		t.Errorf("past k2's deadline: revoked %d, want 1", out.Revoked)
	}
	t.Logf("E2E-FIGURES test=clock-jump creates=%d log_lines=%d", prov.Calls("create"), logs.Len())
}
