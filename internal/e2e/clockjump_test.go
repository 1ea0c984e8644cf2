package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/providertest"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
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
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	sched, err := config.ParseSchedule("@every 6h")
	must(t, err)
	key := config.Key{Name: "mail", Provider: "mem", ScheduleSpec: "@every 6h", Schedule: sched, Grace: time.Hour,
		KeepAlive: 2 * time.Hour, Timeout: time.Minute, NamePrefix: "rotator-"}
	prov := providertest.NewMemory(clock.Now)
	targets := []*sinktest.MemoryTarget{sinktest.NewMemoryTarget("a"), sinktest.NewMemoryTarget("b")}
	store, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	must(t, err)
	t.Cleanup(func() { store.Close() })
	m := &rotate.Managed{Policy: key, Provider: &prov.Provider}
	for _, tg := range targets {
		m.Targets = append(m.Targets, rotate.BoundTarget{Sink: tg.Name, Target: &tg.Target})
	}
	core, logs := observer.New(zap.InfoLevel)
	e, err := rotate.New(rotate.Options{Keys: []*rotate.Managed{m}, Providers: map[string]providers.Provider{"mem": &prov.Provider},
		Store: store, Logger: zap.New(core), Metrics: rotate.NewMetrics(prometheus.NewRegistry()), Clock: clock,
		RetryBase: time.Minute, RetryMax: time.Hour})
	must(t, err)
	eval := func(what string) rotate.Outcome {
		t.Helper()
		out, err := e.Evaluate(context.Background(), "mail", rotate.Mode{})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, tg := range targets {
			s, err := tg.Current()
			if err == nil && !prov.Valid(providers.Credential{"api_key": s["api_key"]}) {
				t.Errorf("%s: sink %s holds key %s, which the provider rejects", what, tg.Name, s["key_id"])
			}
		}
		return out
	}
	get := func() state.Key {
		st, err := store.Get("mail")
		must(t, err)
		return st
	}

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
