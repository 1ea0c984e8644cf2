package rotate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/state"
)

// TestEmergencyRotationsCountedByTrigger: a key the provider no longer
// accepts counts trigger="provider"; an operator's rotate that revokes the
// old key now (rotate --revoke-old-now) counts trigger="operator".
func TestEmergencyRotationsCountedByTrigger(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	h.Prov.SetActive(h.State().Current.ID, false)
	h.Clock.Advance(6 * time.Hour)
	h.Eval(rotate.Mode{}) // the keep-alive finds the key dead
	if out := h.MustEval(rotate.Mode{}); out.Reason != rotate.ReasonEmergency {
		t.Fatalf("reason %s, want an emergency rotation", out.Reason)
	}
	count := func(trigger string) float64 {
		return h.Metrics.KeyValue("rotator_emergency_rotations_total", "mail", trigger)
	}
	if p, o := count(rotate.TriggerProvider), count(rotate.TriggerOperator); p != 1 || o != 0 {
		t.Errorf("after the provider's rejection: provider %v, operator %v; want 1, 0", p, o)
	}
	h.MustEval(rotate.Mode{Force: true, RevokeSuperseded: true, Actor: "cli:test"})
	if p, o := count(rotate.TriggerProvider), count(rotate.TriggerOperator); p != 1 || o != 1 {
		t.Errorf("after rotate --revoke-old-now: provider %v, operator %v; want 1, 1", p, o)
	}
}

// TestSupersededKeyLastUsed: the gauge is the newest use reported of any
// superseded key of the key, 0 when none was reported.
func TestSupersededKeyLastUsed(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	h.Clock.Advance(24 * time.Hour)
	h.MustEval(rotate.Mode{}) // the first key is superseded, in grace
	const name = "rotator_superseded_key_last_used_timestamp_seconds"
	if got := h.Metrics.KeyGauge(name, "mail"); got != 0 {
		t.Errorf("no use reported: %v, want 0", got)
	}
	st := h.State()
	if len(st.Retiring) != 1 {
		t.Fatalf("%d superseded keys, want 1", len(st.Retiring))
	}
	newest := t0.Add(30 * time.Hour)
	st.Retiring[0].LastUsedAt = t0.Add(29 * time.Hour)
	st.Retiring = append(st.Retiring, state.Retiring{ProviderKey: state.ProviderKey{ID: "older"}, LastUsedAt: newest},
		state.Retiring{ProviderKey: state.ProviderKey{ID: "unused"}})
	h.Engine.Export("mail", st)
	if got := h.Metrics.KeyGauge(name, "mail"); got != rotate.Ts(newest) {
		t.Errorf("%v, want the newest use %v", got, rotate.Ts(newest))
	}
}

// TestReloadMetrics: start-up counts as a successful load at the clock's
// time; a failed reload sets 0 and keeps the last success's time; an
// engine built again (a new leader's) keeps what reloads set.
func TestReloadMetrics(t *testing.T) {
	h := newHarness(t, nil)
	check := func(when string, ok int, at time.Time) {
		t.Helper()
		want := `
# HELP rotator_config_last_reload_success_timestamp_seconds When the configuration was last loaded successfully, at start-up or by a reload.
# TYPE rotator_config_last_reload_success_timestamp_seconds gauge
rotator_config_last_reload_success_timestamp_seconds ` + strings.TrimSpace(string(rotate.AppendValue(nil, rotate.Ts(at)))) + `
# HELP rotator_config_last_reload_successful Whether the last configuration reload attempt was successful (1) or not (0).
# TYPE rotator_config_last_reload_successful gauge
rotator_config_last_reload_successful ` + string(rotate.AppendValue(nil, float64(ok))) + "\n"
		if err := testutil.GatherAndCompare(rotate.Served(t, h.Metrics, h.Reg), strings.NewReader(want),
			"rotator_config_last_reload_successful", "rotator_config_last_reload_success_timestamp_seconds"); err != nil {
			t.Errorf("%s: %v", when, err)
		}
	}
	check("at start-up", 1, t0)
	h.Metrics.ReloadDone(false, t0.Add(time.Hour))
	check("after a failed reload", 0, t0)
	if _, err := rotate.New(rotate.Options{Store: h.Store, Logger: zap.NewNop(), Metrics: h.Metrics, Clock: h.Clock}); err != nil {
		t.Fatal(err)
	}
	check("after an engine is built again", 0, t0)
	h.Metrics.ReloadDone(true, t0.Add(2*time.Hour))
	check("after a good reload", 1, t0.Add(2*time.Hour))
}

// TestLeaderMetric: 1 on a daemon without leader election, else what
// SetLeader says.
func TestLeaderMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := rotate.NewMetrics(reg)
	for _, c := range []struct {
		set  func()
		want string
	}{{func() {}, "1"}, {func() { m.SetLeader(false) }, "0"}, {func() { m.SetLeader(true) }, "1"}} {
		c.set()
		want := "# HELP rotator_leader 1 while this replica leads and runs the engine (always on a single-replica daemon), else 0.\n" +
			"# TYPE rotator_leader gauge\nrotator_leader " + c.want + "\n"
		if err := testutil.GatherAndCompare(rotate.Served(t, m, reg), strings.NewReader(want), "rotator_leader"); err != nil {
			t.Error(err)
		}
	}
}
