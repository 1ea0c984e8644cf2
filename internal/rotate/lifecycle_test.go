package rotate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks"
)

func TestLifecycleCreatesWritesGracesRevokes(t *testing.T) {
	h := newHarness(t, nil)

	out := h.MustEval(rotate.Mode{})
	if !out.Rotated || out.Reason != rotate.ReasonNoKey {
		t.Fatalf("first evaluation: rotated=%v reason=%q, want a rotation for no_key", out.Rotated, out.Reason)
	}
	first := h.State().Current
	h.CheckConverged("after the first rotation")
	if got := h.SinkOf(0)[rotate.FieldKeyName]; !strings.HasPrefix(got, "rotator-mail-20261123T100000Z-") {
		t.Errorf("key_name in sink = %q, want rotator-mail-<timestamp>-<random>", got)
	}
	if got, want := out.Next, t0.Add(6*time.Hour); !got.Equal(want) {
		t.Errorf("next wake = %s, want the keep-alive at %s", got, want)
	}

	// Not due yet: nothing happens.
	h.Clock.Advance(time.Hour)
	if out := h.MustEval(rotate.Mode{}); out.Rotated {
		t.Fatal("rotated before the schedule was due")
	}

	// The schedule comes due: a new key, the old one in grace.
	h.Clock.Advance(23 * time.Hour)
	out = h.MustEval(rotate.Mode{})
	if !out.Rotated || out.Reason != rotate.ReasonScheduleDue {
		t.Fatalf("rotated=%v reason=%q, want schedule_due", out.Rotated, out.Reason)
	}
	st := h.State()
	if len(st.Retiring) != 1 || st.Retiring[0].ID != first.ID {
		t.Fatalf("retiring = %+v, want the first key", st.Retiring)
	}
	if got, want := st.Retiring[0].RevokeAfter, h.Clock.Now().Add(time.Hour); !got.Equal(want) {
		t.Errorf("revoke after %s, want now + grace %s", got, want)
	}
	if !h.Prov.Valid(credOf(h, first.ID)) {
		t.Error("the old key was revoked before its grace period ended")
	}
	if got, want := out.Next, h.Clock.Now().Add(time.Hour); !got.Equal(want) {
		t.Errorf("next wake = %s, want the revocation deadline %s", got, want)
	}
	h.CheckSafety("in grace")

	h.Clock.Advance(time.Hour)
	if out := h.MustEval(rotate.Mode{}); out.Revoked != 1 {
		t.Fatalf("revoked %d keys at the deadline, want 1", out.Revoked)
	}
	h.CheckConverged("after revocation")
	h.CheckNoSecretLeaked()
}

// credOf returns the credential of a memory-provider key id: Memory
// issues ids 1, 2, 3... in the order of its secrets.
func credOf(h *harness, id string) providers.Credential {
	n := 0
	for i := range id {
		n = n*10 + int(id[i]-'0')
	}
	return providers.Credential{"api_key": h.Prov.Issued()[n-1]}
}

func TestGraceZeroRevokesInTheSamePass(t *testing.T) {
	h := newHarness(t, func(k *config.Key) { k.Grace = 0 })
	h.MustEval(rotate.Mode{})
	out := h.MustEval(rotate.Mode{Force: true})
	if !out.Rotated || out.Revoked != 1 {
		t.Fatalf("rotated=%v revoked=%d, want a rotation and the old key revoked in the same pass", out.Rotated, out.Revoked)
	}
	h.CheckConverged("grace 0")
}

// TestCrashAtEveryStep kills the engine at every side-effect boundary of a
// rotation (and of the revocation that follows), restarts it on the same
// state file, and checks that it converges with no untracked key and no
// sink holding a revoked key.
func TestCrashAtEveryStep(t *testing.T) {
	for _, point := range rotate.Failpoints {
		t.Run(point, func(t *testing.T) {
			h := newHarness(t, nil)
			h.MustEval(rotate.Mode{}) // a first key, so that there is an old one
			h.CheckConverged("before the crash")

			h.CrashAt = point
			h.Clock.Advance(24 * time.Hour)
			_, _, crashed := h.Eval(rotate.Mode{})
			if !crashed && !strings.Contains(point, "revoke") {
				t.Fatalf("failpoint %s was never reached", point)
			}
			if strings.Contains(point, "revoke") && !crashed {
				// The revocation comes after the grace period.
				h.Clock.Advance(time.Hour)
				if _, _, crashed = h.Eval(rotate.Mode{}); !crashed {
					t.Fatalf("failpoint %s was never reached", point)
				}
			}
			h.CheckSafety("right after the crash")

			h.Restart()
			if point == "after-intent" {
				// The create may or may not have reached the provider: its
				// name is watched, and a new attempt starts at once.
				h.MustEval(rotate.Mode{})
				if st := h.State(); len(st.Watch) != 1 {
					t.Fatalf("watch = %+v, want the interrupted create's name watched", st.Watch)
				}
				h.CheckSafety("while the name is watched")
			}
			for i := 0; i < 4; i++ {
				h.MustEval(rotate.Mode{})
				h.CheckSafety("after restart")
				h.Clock.Advance(time.Hour)
			}
			h.CheckConverged("after recovery")
			if got := h.State().Rotations; got < 2 {
				t.Errorf("%d rotations completed, want at least 2", got)
			}
			h.CheckNoSecretLeaked()
		})
	}
}

func TestCrashBeforeAnySinkIsWrittenRevokesTheNewKey(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	old := h.State().Current.ID
	h.CrashAt = "after-created"
	h.Clock.Advance(24 * time.Hour)
	if _, _, crashed := h.Eval(rotate.Mode{}); !crashed {
		t.Fatal("no crash")
	}
	lost := h.State().Rotation.KeyID
	h.Restart()
	h.MustEval(rotate.Mode{})
	if info, _ := h.Prov.Get(lost); info.Active {
		t.Errorf("the key whose secret was lost (%s) is still active", lost)
	}
	if cur := h.State().Current.ID; cur == old || cur == lost {
		t.Errorf("current = %s, want a fresh key after starting over", cur)
	}
}

func TestCrashAfterOneSinkResumesFromTheSink(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	h.CrashAt = "after-sink-write" // after the first of two sinks
	h.Clock.Advance(24 * time.Hour)
	if _, _, crashed := h.Eval(rotate.Mode{}); !crashed {
		t.Fatal("no crash")
	}
	inFlight := h.State().Rotation.KeyID
	creates := h.Prov.Calls("create")
	h.Restart()
	h.MustEval(rotate.Mode{})
	if got := h.State().Current.ID; got != inFlight {
		t.Errorf("current = %s, want the in-flight key %s recovered from the sink", got, inFlight)
	}
	if h.Prov.Calls("create") != creates {
		t.Error("a new key was created although the in-flight one could be resumed")
	}
}

func TestAmbiguousCreateIsCleanedUpByName(t *testing.T) {
	h := newHarness(t, nil)
	h.Prov.CreateFunc = func(ctx context.Context, name string, _ map[string]string) (providers.Key, error) {
		h.Prov.Create(name) // the provider made it; the response is lost
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonTimeout, Message: "connection reset"}
	}
	if _, err, _ := h.Eval(rotate.Mode{}); err == nil {
		t.Fatal("want the failed create reported")
	}
	if got := h.Prov.Active(); len(got) != 0 {
		t.Fatalf("active keys after the lost response: %v, want the lost key revoked", got)
	}
	st := h.State()
	if st.Rotation != nil || st.Failures != 1 || st.NextAttemptAt.IsZero() {
		t.Fatalf("state after failure: rotation=%v failures=%d next=%s", st.Rotation, st.Failures, st.NextAttemptAt)
	}
	// Backoff: not retried at once, then retried and successful.
	h.Prov.CreateFunc = func(_ context.Context, name string, _ map[string]string) (providers.Key, error) {
		return h.Prov.Create(name), nil
	}
	if out := h.MustEval(rotate.Mode{}); out.Rotated {
		t.Fatal("retried before the backoff elapsed")
	}
	h.Clock.Advance(time.Minute)
	if out := h.MustEval(rotate.Mode{}); !out.Rotated {
		t.Fatal("not retried after the backoff")
	}
	h.CheckConverged("after retry")
}

func TestFailedSinkKeepsTheOldKey(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	old := h.State().Current.ID
	down := errors.New("connection refused")
	h.Memory[1].WriteFunc = func(context.Context, sinks.Write) (string, error) { return "", down }
	h.Clock.Advance(24 * time.Hour)
	for i := 0; i < 3; i++ {
		_, err, _ := h.Eval(rotate.Mode{})
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("attempt %d: err = %v, want the sink failure", i, err)
		}
		h.CheckSafety("sink down")
		h.Clock.Advance(10 * time.Minute)
	}
	st := h.State()
	if st.Current.ID != old {
		t.Fatal("the current key changed although a sink failed")
	}
	if h.SinkOf(1)[rotate.FieldKeyID] != old {
		t.Fatal("the failing sink lost the old key")
	}
	if !h.Prov.Valid(credOf(h, old)) {
		t.Fatal("the old key was revoked although a sink never got the new one")
	}
	if st.Failures < 3 {
		t.Errorf("failures = %d, want them counted", st.Failures)
	}
	// The sink comes back: the same in-flight key is finished.
	inFlight := st.Rotation.KeyID
	h.Memory[1].WriteFunc = func(_ context.Context, w sinks.Write) (string, error) { return h.Memory[1].Put(w.Data), nil }
	h.Clock.Advance(time.Hour)
	h.MustEval(rotate.Mode{})
	if got := h.State().Current.ID; got != inFlight {
		t.Errorf("current = %s, want the in-flight key %s", got, inFlight)
	}
	h.Clock.Advance(2 * time.Hour)
	h.MustEval(rotate.Mode{})
	h.CheckConverged("after the sink recovered")
}

func TestRevocationIsRetriedWithBackoff(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	h.Clock.Advance(24 * time.Hour)
	h.MustEval(rotate.Mode{})
	old := h.State().Retiring[0].ID
	fails := 2
	h.Prov.RevokeFunc = func(_ context.Context, id string) error {
		if fails > 0 {
			fails--
			return &providers.Error{Op: "revoke", Reason: providers.ReasonServer, Status: 503}
		}
		h.Prov.Revoke(id)
		return nil
	}
	h.Clock.Advance(time.Hour)
	if _, err, _ := h.Eval(rotate.Mode{}); err == nil {
		t.Fatal("want the failed revocation reported")
	}
	rt := h.State().Retiring[0]
	if rt.Attempts != 1 || !rt.NextAttemptAt.After(h.Clock.Now()) {
		t.Fatalf("retiring after a failure: %+v", rt)
	}
	h.MustEval(rotate.Mode{}) // within backoff: not attempted
	if fails != 1 {
		t.Fatal("revocation retried before its backoff elapsed")
	}
	for i := 0; i < 3 && len(h.State().Retiring) > 0; i++ {
		h.Clock.Advance(5 * time.Minute)
		h.Eval(rotate.Mode{})
	}
	if info, _ := h.Prov.Get(old); info.Active {
		t.Fatal("old key never revoked")
	}
	h.CheckConverged("after retries")
}

func TestNoRevocationWhileASinkHoldsTheOldKey(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	oldData := h.SinkOf(1)
	h.Clock.Advance(24 * time.Hour)
	h.MustEval(rotate.Mode{})
	old := h.State().Retiring[0].ID
	h.Memory[1].Put(oldData) // someone restored the old secret
	h.Clock.Advance(2 * time.Hour)
	_, err, _ := h.Eval(rotate.Mode{})
	if err == nil || !strings.Contains(err.Error(), "still holds") {
		t.Fatalf("err = %v, want a refusal naming the sink", err)
	}
	if info, _ := h.Prov.Get(old); !info.Active {
		t.Fatal("revoked a key that a sink still holds")
	}
}

func TestUnreadableSinkBlocksRevocation(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	h.Clock.Advance(24 * time.Hour)
	h.MustEval(rotate.Mode{})
	old := h.State().Retiring[0].ID
	h.Memory[0].ReadFunc = func(context.Context) (sinks.Secret, error) { return nil, errors.New("timeout") }
	h.Clock.Advance(2 * time.Hour)
	if _, err, _ := h.Eval(rotate.Mode{}); err == nil {
		t.Fatal("want an error")
	}
	if info, _ := h.Prov.Get(old); !info.Active {
		t.Fatal("revoked without being able to check every sink")
	}
}

func TestKeepAliveUsesTheKeyFromTheSink(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	tests := h.Prov.Calls("test")
	h.Clock.Advance(6 * time.Hour)
	out := h.MustEval(rotate.Mode{})
	if !out.KeptAlive || h.Prov.Calls("test") != tests+1 {
		t.Fatalf("kept alive=%v tests=%d, want one keep-alive", out.KeptAlive, h.Prov.Calls("test")-tests)
	}
	if got := h.State().LastUsedAt; !got.Equal(h.Clock.Now()) {
		t.Errorf("last used = %s, want now", got)
	}
}

func TestInactiveKeyIsRotatedAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	cur := h.State().Current.ID
	h.Prov.SetActive(cur, false) // the provider revoked it for inactivity
	h.Clock.Advance(6 * time.Hour)
	if _, err, _ := h.Eval(rotate.Mode{}); err == nil {
		t.Fatal("want the keep-alive failure reported")
	}
	if h.State().Emergency == "" {
		t.Fatal("emergency not recorded")
	}
	out := h.MustEval(rotate.Mode{})
	if !out.Rotated || out.Reason != rotate.ReasonEmergency {
		t.Fatalf("rotated=%v reason=%s, want an emergency rotation", out.Rotated, out.Reason)
	}
	h.Clock.Advance(2 * time.Hour)
	h.MustEval(rotate.Mode{})
	h.CheckConverged("after the emergency")
}

func TestPausedKeyIsNotRotatedUnlessForced(t *testing.T) {
	h := newHarness(t, func(k *config.Key) { k.Paused = true })
	if out := h.MustEval(rotate.Mode{}); out.Rotated {
		t.Fatal("a paused key was rotated")
	}
	if out := h.MustEval(rotate.Mode{Force: true}); !out.Rotated {
		t.Fatal("--run-now did not rotate a paused key")
	}
}

// TestKeepAliveUsesKeysInGrace: a key in its grace period is still used by
// consumers that have not reloaded; keep-alive uses it too, with the
// credential a sink's history keeps (Vault KV v2, AWSPREVIOUS).
func TestKeepAliveUsesKeysInGrace(t *testing.T) {
	h := newHarness(t, func(k *config.Key) {
		k.Grace, k.KeepAlive = 72*time.Hour, 24*time.Hour
		k.Schedule, _ = config.ParseSchedule("@every 720h")
	})
	h.MustEval(rotate.Mode{})
	old := h.State().Current.ID
	h.Clock.Advance(time.Hour)
	h.MustEval(rotate.Mode{Force: true})
	h.Clock.Advance(24 * time.Hour)
	if out := h.MustEval(rotate.Mode{}); !out.KeptAlive {
		t.Fatal("no keep-alive")
	}
	info, err := h.Prov.Get(old)
	if err != nil || !info.LastUsedAt.Equal(h.Clock.Now()) {
		t.Fatalf("the key in grace was last used %s, want now (%s); err %v", info.LastUsedAt, h.Clock.Now(), err)
	}
	// Past its deadline it is revoked, not kept alive.
	h.Clock.Advance(48 * time.Hour)
	if out := h.MustEval(rotate.Mode{}); out.Revoked != 1 {
		t.Fatalf("revoked %d, want the old key", out.Revoked)
	}
	h.CheckConverged("after grace")
}
