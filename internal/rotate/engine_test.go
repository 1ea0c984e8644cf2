package rotate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/state"
)

// TestDryRunCallsNothingMutating replaces every mutating call with one that
// fails the test, and checks that the plan still says what would happen.
func TestDryRunCallsNothingMutating(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	h.Clock.Advance(25 * time.Hour)
	mutating := func(what string) { t.Errorf("dry run made a mutating call: %s", what) }
	h.Prov.CreateFunc = func(context.Context, string, map[string]string) (providers.Key, error) {
		mutating("create")
		return providers.Key{}, nil
	}
	h.Prov.RevokeFunc = func(context.Context, string) error { mutating("revoke"); return nil }
	h.Prov.TestFunc = func(context.Context, string, providers.Credential) (providers.KeyInfo, error) {
		mutating("test (keep-alive)")
		return providers.KeyInfo{}, nil
	}
	for _, tg := range h.Memory {
		tg.WriteFunc = func(context.Context, sinks.Write) (string, error) { mutating("sink write"); return "", nil }
	}
	before := h.State()
	var out bytes.Buffer
	if err := h.Engine.Plan(&out, rotate.Once{}, false); err != nil {
		t.Fatal(err)
	}
	plan := out.String()
	for _, want := range []string{"rotate (reason: forced)", "create key rotator-mail-<UTC timestamp>-<random> at mem",
		"write fake a (sink a) and read it back", "revoke the current key " + before.Current.ID + " after grace 1h0m0s"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	// The key being rotated is not also kept alive: the rotation tests the
	// new one.
	if strings.Contains(plan, "keep-alive: use key") {
		t.Errorf("plan keeps a key alive that it rotates:\n%s", plan)
	}
	if after := h.State(); after.Rotations != before.Rotations || after.Rotation != nil {
		t.Error("dry run changed the state")
	}
}

func TestMetricsAfterARotation(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	want := `
# HELP rotator_rotations_total Rotation attempts by key, provider and result (success, failure).
# TYPE rotator_rotations_total counter
rotator_rotations_total{key="mail",provider="mem",result="failure"} 0
rotator_rotations_total{key="mail",provider="mem",result="success"} 1
# HELP rotator_last_rotation_success_timestamp_seconds When the key was last rotated successfully (0 = never).
# TYPE rotator_last_rotation_success_timestamp_seconds gauge
rotator_last_rotation_success_timestamp_seconds{key="mail"} 1.795428e+09
# HELP rotator_next_rotation_timestamp_seconds When the key's schedule next calls for a rotation, computed from the last success; it stays in the past while rotations fail.
# TYPE rotator_next_rotation_timestamp_seconds gauge
rotator_next_rotation_timestamp_seconds{key="mail"} 1.7955144e+09
# HELP rotator_pending_revocations Superseded keys not yet revoked (in grace or failing to revoke).
# TYPE rotator_pending_revocations gauge
rotator_pending_revocations{key="mail"} 0
# HELP rotator_sink_writes_total Writes of rotated credentials to sinks by result.
# TYPE rotator_sink_writes_total counter
rotator_sink_writes_total{result="failure",sink="a"} 0
rotator_sink_writes_total{result="failure",sink="b"} 0
rotator_sink_writes_total{result="success",sink="a"} 1
rotator_sink_writes_total{result="success",sink="b"} 1
# HELP rotator_revocations_total Revocations of superseded keys by result.
# TYPE rotator_revocations_total counter
rotator_revocations_total{key="mail",result="failure"} 0
rotator_revocations_total{key="mail",result="max_grace"} 0
rotator_revocations_total{key="mail",result="success"} 0
`
	if err := testutil.GatherAndCompare(rotate.Served(t, h.Metrics, h.Reg), strings.NewReader(want), "rotator_rotations_total",
		"rotator_last_rotation_success_timestamp_seconds", "rotator_next_rotation_timestamp_seconds",
		"rotator_pending_revocations", "rotator_sink_writes_total", "rotator_revocations_total"); err != nil {
		t.Error(err)
	}
	h.Clock.Advance(24 * time.Hour)
	h.MustEval(rotate.Mode{})
	if got := h.Metrics.KeyGauge("rotator_pending_revocations", "mail"); got != 1 {
		t.Errorf("pending revocations = %v, want 1 in grace", got)
	}
	if got, want := h.Metrics.KeyGauge("rotator_revocation_deadline_timestamp_seconds", "mail"), rotate.Ts(h.Clock.Now().Add(time.Hour)); got != want {
		t.Errorf("revocation deadline = %v, want %v", got, want)
	}
}

func TestMetricsExistAtZeroBeforeAnyWork(t *testing.T) {
	h := newHarness(t, nil)
	n, err := testutil.GatherAndCount(rotate.Served(t, h.Metrics, h.Reg))
	if err != nil {
		t.Fatal(err)
	}
	// 6 counters x results, 10 gauges, 1 histogram, sink and provider series.
	if n < 20 {
		t.Errorf("%d series before any work; every series must exist at zero", n)
	}
	for _, name := range []string{"rotator_rotations_total", "rotator_keepalives_total", "rotator_key_consecutive_failures",
		"rotator_orphaned_keys", "rotator_emergency_rotations_total", "rotator_key_inactivity_deadline_timestamp_seconds"} {
		if c, err := testutil.GatherAndCount(rotate.Served(t, h.Metrics, h.Reg), name); err != nil || c == 0 {
			t.Errorf("%s: %d series, %v", name, c, err)
		}
	}
}

func TestFailedRotationIsCounted(t *testing.T) {
	h := newHarness(t, nil)
	h.Prov.CreateFunc = func(context.Context, string, map[string]string) (providers.Key, error) {
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonServer, Status: 500}
	}
	h.Eval(rotate.Mode{})
	if got := h.Metrics.RotationCount("mail", "failure"); got != 1 {
		t.Errorf("failures counted = %v, want 1", got)
	}
	if got := h.Metrics.KeyGauge("rotator_key_consecutive_failures", "mail"); got != 1 {
		t.Errorf("consecutive failures = %v, want 1", got)
	}
}

// TestServeEvaluatesAtStartAndOnSchedule drives the daemon loop on a fake
// clock: every key at start-up, then at the next due time, then a clean
// drain on cancellation.
func TestServeEvaluatesAtStartAndOnSchedule(t *testing.T) {
	h := newHarness(t, func(k *config.Key) { k.KeepAlive = 0 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Engine.Serve(ctx) }()

	waitFor(t, func() bool { return h.Prov.Calls("create") == 1 && h.State().Current != nil }, "the start-up rotation")
	// The loop now sleeps until the next rotation; wake it exactly then.
	if err := h.Clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	h.Clock.Advance(24 * time.Hour)
	waitFor(t, func() bool { return h.State().Rotations == 2 }, "the scheduled rotation")
	if err := h.Clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	h.Clock.Advance(time.Hour)
	waitFor(t, func() bool { return len(h.State().Retiring) == 0 }, "the revocation at the grace deadline")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancellation")
	}
	h.CheckConverged("after Serve")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOrphansAreCountedAndPruned(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	orphan := h.Prov.Create(rotate.ProviderKeyName("rotator-", "mail", t0))
	h.Prov.Create(rotate.ProviderKeyName("rotator-", "mail-other", t0)) // another key's name: not ours
	h.Prov.Create("rotator-mail-handmade")                              // not our pattern
	n, err := h.Engine.ScanOrphans(context.Background(), "mem")
	if err != nil || n != 1 {
		t.Fatalf("orphans = %d, %v; want 1", n, err)
	}
	if got := testutil.ToFloat64(h.Metrics.Orphaned().WithLabelValues("mem")); got != 1 {
		t.Errorf("rotator_orphaned_keys = %v, want 1", got)
	}
	if info, _ := h.Prov.Get(orphan.ID); !info.Active {
		t.Fatal("an orphan was revoked without prune_orphans")
	}

	h.Engine.Policy("mail").PruneOrphans = true
	// A young orphan may be the create of a rotation still in flight
	// elsewhere: it is pruned only once older than the rotation timeout.
	h.Clock.Advance(rotate.OrphanMinAge(h.Key) - time.Second - h.Clock.Since(t0))
	if n, err := h.Engine.ScanOrphans(context.Background(), "mem"); err != nil || n != 1 {
		t.Fatalf("young orphan: %d, %v; want it left alone", n, err)
	}
	h.Clock.Advance(time.Second)
	if n, err := h.Engine.ScanOrphans(context.Background(), "mem"); err != nil || n != 0 {
		t.Fatalf("after pruning: %d, %v", n, err)
	}
	if info, _ := h.Prov.Get(orphan.ID); info.Active {
		t.Fatal("prune_orphans did not revoke the orphan")
	}
	if len(h.Prov.Active()) != 3 {
		t.Errorf("active keys %v: pruning touched keys that are not orphans", h.Prov.Active())
	}
}

func TestPolicyChain(t *testing.T) {
	sched, _ := config.ParseSchedule("@every 24h")
	key := config.Key{Name: "k", Schedule: sched}
	tests := map[string]struct {
		in     rotate.Input
		reason rotate.Reason
		rotate bool
	}{
		"rotate a key that has never been rotated": {rotate.Input{Key: key, Now: t0}, rotate.ReasonNoKey, true},
		"rotate when the schedule is due": {rotate.Input{Key: key, State: withCurrent(t0.Add(-25 * time.Hour)), Now: t0},
			rotate.ReasonScheduleDue, true},
		"do not rotate before the schedule": {rotate.Input{Key: key, State: withCurrent(t0.Add(-time.Hour)), Now: t0}, "", false},
		"rotate at once in an emergency": {rotate.Input{Key: key, State: func() state.Key {
			s := withCurrent(t0)
			s.Emergency = "revoked"
			return s
		}(), Now: t0}, rotate.ReasonEmergency, true},
		"a paused key is not rotated":        {rotate.Input{Key: config.Key{Paused: true, Schedule: sched}, Now: t0}, rotate.ReasonPaused, false},
		"--run-now rotates even paused keys": {rotate.Input{Key: config.Key{Paused: true}, Now: t0, Forced: true}, rotate.ReasonForced, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, rotate := rotate.DefaultChain.Evaluate(tc.in)
			if r != tc.reason || rotate != tc.rotate {
				t.Errorf("got (%q, %v), want (%q, %v)", r, rotate, tc.reason, tc.rotate)
			}
		})
	}
}

// The schedule's jitter survives a restart (the next rotation the status
// shows does not move), stays within [0, jitter), and spreads keys that
// share a schedule over the window.
func TestJitterSurvivesRestartAndSpreadsKeys(t *testing.T) {
	h := newHarness(t, func(k *config.Key) { k.Jitter = 30 * time.Minute })
	h.MustEval(rotate.Mode{})
	before := h.Engine.Status([]state.Key{h.State()})[0].NextRotation
	h.Restart()
	if after := h.Engine.Status([]state.Key{h.State()})[0].NextRotation; !after.Equal(before) {
		t.Errorf("next rotation moved from %s to %s across a restart", before, after)
	}
	if d := before.Sub(h.State().LastSuccessAt.Add(24 * time.Hour)); d < 0 || d >= 30*time.Minute {
		t.Errorf("jitter %s out of [0, 30m)", d)
	}
	quarters := map[time.Duration]bool{}
	for i := range 100 {
		quarters[rotate.JitterFor(fmt.Sprintf("key-%d", i), t0, time.Hour)/(15*time.Minute)] = true
	}
	if len(quarters) != 4 {
		t.Errorf("100 keys on one schedule fall in %d of the 4 quarters of the jitter window", len(quarters))
	}
}

// TestRotationDurationHistogram: the per-key histogram served at scrape
// time is cumulative, with count and sum, like a live one.
func TestRotationDurationHistogram(t *testing.T) {
	h := newHarness(t, nil)
	h.Metrics.RotationDone("mail", nil, 300*time.Millisecond)
	h.Metrics.RotationDone("mail", errors.New("x"), 45*time.Second)
	want := `
# HELP rotator_rotation_duration_seconds Duration of rotation attempts, from create to promote.
# TYPE rotator_rotation_duration_seconds histogram
rotator_rotation_duration_seconds_bucket{key="mail",le="0.05"} 0
rotator_rotation_duration_seconds_bucket{key="mail",le="0.1"} 0
rotator_rotation_duration_seconds_bucket{key="mail",le="0.25"} 0
rotator_rotation_duration_seconds_bucket{key="mail",le="0.5"} 1
rotator_rotation_duration_seconds_bucket{key="mail",le="1"} 1
rotator_rotation_duration_seconds_bucket{key="mail",le="2.5"} 1
rotator_rotation_duration_seconds_bucket{key="mail",le="5"} 1
rotator_rotation_duration_seconds_bucket{key="mail",le="10"} 1
rotator_rotation_duration_seconds_bucket{key="mail",le="30"} 1
rotator_rotation_duration_seconds_bucket{key="mail",le="60"} 2
rotator_rotation_duration_seconds_bucket{key="mail",le="120"} 2
rotator_rotation_duration_seconds_bucket{key="mail",le="+Inf"} 2
rotator_rotation_duration_seconds_sum{key="mail"} 45.3
rotator_rotation_duration_seconds_count{key="mail"} 2
`
	if err := testutil.GatherAndCompare(rotate.Served(t, h.Metrics, h.Reg), strings.NewReader(want), "rotator_rotation_duration_seconds"); err != nil {
		t.Error(err)
	}
	if got := h.Metrics.RotationCount("mail", "failure"); got != 1 {
		t.Errorf("failures = %v, want 1", got)
	}
}

// TestServeCallsOnIdleWhenWorkIsDone: the daemon returns memory to the
// operating system once the start-up pass is over and after each later
// spell of work, never while a job runs (the scheduler's tests pin the
// exact rule).
func TestServeCallsOnIdleWhenWorkIsDone(t *testing.T) {
	var idles atomic.Int64
	h := newHarness(t, func(k *config.Key) { k.KeepAlive = 0 })
	h.Tweak = func(o *rotate.Options) { o.OnIdle = func() { idles.Add(1) } }
	create := h.Prov.CreateFunc
	h.Prov.CreateFunc = func(ctx context.Context, name string, params map[string]string) (providers.Key, error) {
		if idles.Load() != 0 {
			t.Error("OnIdle was called while a job ran")
		}
		return create(ctx, name, params)
	}
	h.Restart() // with OnIdle set
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Engine.Serve(ctx) }()

	waitFor(t, func() bool { return idles.Load() == 1 }, "OnIdle after the start-up pass")
	if h.Prov.Calls("create") != 1 {
		t.Fatalf("creates %d, want 1", h.Prov.Calls("create"))
	}
	// The orphan scan at +1m is work: idle again afterwards.
	if err := h.Clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	h.Clock.Advance(time.Minute)
	waitFor(t, func() bool { return idles.Load() == 2 }, "OnIdle after the orphan scan")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
