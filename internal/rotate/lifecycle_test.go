package rotate

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/providertest"
	"github.com/rotator-dev/rotator/internal/sinks"
)

func TestLifecycleCreatesWritesGracesRevokes(t *testing.T) {
	h := newHarness(t, nil)

	out := h.mustEval(Mode{})
	if !out.Rotated || out.Reason != ReasonNoKey {
		t.Fatalf("first evaluation: rotated=%v reason=%q, want a rotation for no_key", out.Rotated, out.Reason)
	}
	first := h.state().Current
	h.checkConverged("after the first rotation")
	if got := h.sinkOf(0)[FieldKeyName]; !strings.HasPrefix(got, "rotator-mail-20261123T100000Z-") {
		t.Errorf("key_name in sink = %q, want rotator-mail-<timestamp>-<random>", got)
	}
	if got, want := out.Next, t0.Add(6*time.Hour); !got.Equal(want) {
		t.Errorf("next wake = %s, want the keep-alive at %s", got, want)
	}

	// Not due yet: nothing happens.
	h.clock.Advance(time.Hour)
	if out := h.mustEval(Mode{}); out.Rotated {
		t.Fatal("rotated before the schedule was due")
	}

	// The schedule comes due: a new key, the old one in grace.
	h.clock.Advance(23 * time.Hour)
	out = h.mustEval(Mode{})
	if !out.Rotated || out.Reason != ReasonScheduleDue {
		t.Fatalf("rotated=%v reason=%q, want schedule_due", out.Rotated, out.Reason)
	}
	st := h.state()
	if len(st.Retiring) != 1 || st.Retiring[0].ID != first.ID {
		t.Fatalf("retiring = %+v, want the first key", st.Retiring)
	}
	if got, want := st.Retiring[0].RevokeAfter, h.clock.Now().Add(time.Hour); !got.Equal(want) {
		t.Errorf("revoke after %s, want now + grace %s", got, want)
	}
	if !h.prov.Valid(credOf(h, first.ID)) {
		t.Error("the old key was revoked before its grace period ended")
	}
	if got, want := out.Next, h.clock.Now().Add(time.Hour); !got.Equal(want) {
		t.Errorf("next wake = %s, want the revocation deadline %s", got, want)
	}
	h.checkSafety("in grace")

	h.clock.Advance(time.Hour)
	if out := h.mustEval(Mode{}); out.Revoked != 1 {
		t.Fatalf("revoked %d keys at the deadline, want 1", out.Revoked)
	}
	h.checkConverged("after revocation")
	h.checkNoSecretLeaked()
}

// credOf returns the credential of a memory-provider key id: Memory
// issues ids 1, 2, 3... in the order of its secrets.
func credOf(h *harness, id string) providers.Credential {
	n := 0
	for i := range id {
		n = n*10 + int(id[i]-'0')
	}
	return providers.Credential{"api_key": h.prov.Issued()[n-1]}
}

func TestGraceZeroRevokesInTheSamePass(t *testing.T) {
	h := newHarness(t, func(k *config.Key) { k.Grace = 0 })
	h.mustEval(Mode{})
	out := h.mustEval(Mode{Force: true})
	if !out.Rotated || out.Revoked != 1 {
		t.Fatalf("rotated=%v revoked=%d, want a rotation and the old key revoked in the same pass", out.Rotated, out.Revoked)
	}
	h.checkConverged("grace 0")
}

// TestCrashAtEveryStep kills the engine at every side-effect boundary of a
// rotation (and of the revocation that follows), restarts it on the same
// state file, and checks that it converges with no untracked key and no
// sink holding a revoked key.
func TestCrashAtEveryStep(t *testing.T) {
	for _, point := range Failpoints {
		t.Run(point, func(t *testing.T) {
			h := newHarness(t, nil)
			h.mustEval(Mode{}) // a first key, so that there is an old one
			h.checkConverged("before the crash")

			h.crashAt = point
			h.clock.Advance(24 * time.Hour)
			_, _, crashed := h.eval(Mode{})
			if !crashed && !strings.Contains(point, "revoke") {
				t.Fatalf("failpoint %s was never reached", point)
			}
			if strings.Contains(point, "revoke") && !crashed {
				// The revocation comes after the grace period.
				h.clock.Advance(time.Hour)
				if _, _, crashed = h.eval(Mode{}); !crashed {
					t.Fatalf("failpoint %s was never reached", point)
				}
			}
			h.checkSafety("right after the crash")

			h.restart()
			if point == "after-intent" {
				// The create may or may not have reached the provider: its
				// name is watched, and a new attempt starts at once.
				h.mustEval(Mode{})
				if st := h.state(); len(st.Watch) != 1 {
					t.Fatalf("watch = %+v, want the interrupted create's name watched", st.Watch)
				}
				h.checkSafety("while the name is watched")
			}
			for i := 0; i < 4; i++ {
				h.mustEval(Mode{})
				h.checkSafety("after restart")
				h.clock.Advance(time.Hour)
			}
			h.checkConverged("after recovery")
			if got := h.state().Rotations; got < 2 {
				t.Errorf("%d rotations completed, want at least 2", got)
			}
			h.checkNoSecretLeaked()
		})
	}
}

func TestCrashBeforeAnySinkIsWrittenRevokesTheNewKey(t *testing.T) {
	h := newHarness(t, nil)
	h.mustEval(Mode{})
	old := h.state().Current.ID
	h.crashAt = "after-created"
	h.clock.Advance(24 * time.Hour)
	if _, _, crashed := h.eval(Mode{}); !crashed {
		t.Fatal("no crash")
	}
	lost := h.state().Rotation.KeyID
	h.restart()
	h.mustEval(Mode{})
	if info, _ := h.prov.Get(lost); info.Active {
		t.Errorf("the key whose secret was lost (%s) is still active", lost)
	}
	if cur := h.state().Current.ID; cur == old || cur == lost {
		t.Errorf("current = %s, want a fresh key after starting over", cur)
	}
}

func TestCrashAfterOneSinkResumesFromTheSink(t *testing.T) {
	h := newHarness(t, nil)
	h.mustEval(Mode{})
	h.crashAt = "after-sink-write" // after the first of two sinks
	h.clock.Advance(24 * time.Hour)
	if _, _, crashed := h.eval(Mode{}); !crashed {
		t.Fatal("no crash")
	}
	inFlight := h.state().Rotation.KeyID
	creates := h.prov.Calls("create")
	h.restart()
	h.mustEval(Mode{})
	if got := h.state().Current.ID; got != inFlight {
		t.Errorf("current = %s, want the in-flight key %s recovered from the sink", got, inFlight)
	}
	if h.prov.Calls("create") != creates {
		t.Error("a new key was created although the in-flight one could be resumed")
	}
}

func TestAmbiguousCreateIsCleanedUpByName(t *testing.T) {
	h := newHarness(t, nil)
	h.prov.CreateFunc = func(ctx context.Context, name string, _ map[string]string) (providers.Key, error) {
		h.prov.Create(name) // the provider made it; the response is lost
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonTimeout, Message: "connection reset"}
	}
	if _, err, _ := h.eval(Mode{}); err == nil {
		t.Fatal("want the failed create reported")
	}
	if got := h.prov.Active(); len(got) != 0 {
		t.Fatalf("active keys after the lost response: %v, want the lost key revoked", got)
	}
	st := h.state()
	if st.Rotation != nil || st.Failures != 1 || st.NextAttemptAt.IsZero() {
		t.Fatalf("state after failure: rotation=%v failures=%d next=%s", st.Rotation, st.Failures, st.NextAttemptAt)
	}
	// Backoff: not retried at once, then retried and successful.
	h.prov.CreateFunc = func(_ context.Context, name string, _ map[string]string) (providers.Key, error) {
		return h.prov.Create(name), nil
	}
	if out := h.mustEval(Mode{}); out.Rotated {
		t.Fatal("retried before the backoff elapsed")
	}
	h.clock.Advance(time.Minute)
	if out := h.mustEval(Mode{}); !out.Rotated {
		t.Fatal("not retried after the backoff")
	}
	h.checkConverged("after retry")
}

func TestFailedSinkKeepsTheOldKey(t *testing.T) {
	h := newHarness(t, nil)
	h.mustEval(Mode{})
	old := h.state().Current.ID
	down := errors.New("connection refused")
	h.targets[1].WriteFunc = func(context.Context, sinks.Write) (string, error) { return "", down }
	h.clock.Advance(24 * time.Hour)
	for i := 0; i < 3; i++ {
		_, err, _ := h.eval(Mode{})
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("attempt %d: err = %v, want the sink failure", i, err)
		}
		h.checkSafety("sink down")
		h.clock.Advance(10 * time.Minute)
	}
	st := h.state()
	if st.Current.ID != old {
		t.Fatal("the current key changed although a sink failed")
	}
	if h.sinkOf(1)[FieldKeyID] != old {
		t.Fatal("the failing sink lost the old key")
	}
	if !h.prov.Valid(credOf(h, old)) {
		t.Fatal("the old key was revoked although a sink never got the new one")
	}
	if st.Failures < 3 {
		t.Errorf("failures = %d, want them counted", st.Failures)
	}
	// The sink comes back: the same in-flight key is finished.
	inFlight := st.Rotation.KeyID
	h.targets[1].WriteFunc = func(_ context.Context, w sinks.Write) (string, error) { return h.targets[1].Put(w.Data), nil }
	h.clock.Advance(time.Hour)
	h.mustEval(Mode{})
	if got := h.state().Current.ID; got != inFlight {
		t.Errorf("current = %s, want the in-flight key %s", got, inFlight)
	}
	h.clock.Advance(2 * time.Hour)
	h.mustEval(Mode{})
	h.checkConverged("after the sink recovered")
}

func TestRevocationIsRetriedWithBackoff(t *testing.T) {
	h := newHarness(t, nil)
	h.mustEval(Mode{})
	h.clock.Advance(24 * time.Hour)
	h.mustEval(Mode{})
	old := h.state().Retiring[0].ID
	fails := 2
	h.prov.RevokeFunc = func(_ context.Context, id string) error {
		if fails > 0 {
			fails--
			return &providers.Error{Op: "revoke", Reason: providers.ReasonServer, Status: 503}
		}
		h.prov.Revoke(id)
		return nil
	}
	h.clock.Advance(time.Hour)
	if _, err, _ := h.eval(Mode{}); err == nil {
		t.Fatal("want the failed revocation reported")
	}
	rt := h.state().Retiring[0]
	if rt.Attempts != 1 || !rt.NextAttemptAt.After(h.clock.Now()) {
		t.Fatalf("retiring after a failure: %+v", rt)
	}
	h.mustEval(Mode{}) // within backoff: not attempted
	if fails != 1 {
		t.Fatal("revocation retried before its backoff elapsed")
	}
	for i := 0; i < 3 && len(h.state().Retiring) > 0; i++ {
		h.clock.Advance(5 * time.Minute)
		h.eval(Mode{})
	}
	if info, _ := h.prov.Get(old); info.Active {
		t.Fatal("old key never revoked")
	}
	h.checkConverged("after retries")
}

func TestNoRevocationWhileASinkHoldsTheOldKey(t *testing.T) {
	h := newHarness(t, nil)
	h.mustEval(Mode{})
	oldData := h.sinkOf(1)
	h.clock.Advance(24 * time.Hour)
	h.mustEval(Mode{})
	old := h.state().Retiring[0].ID
	h.targets[1].Put(oldData) // someone restored the old secret
	h.clock.Advance(2 * time.Hour)
	_, err, _ := h.eval(Mode{})
	if err == nil || !strings.Contains(err.Error(), "still holds") {
		t.Fatalf("err = %v, want a refusal naming the sink", err)
	}
	if info, _ := h.prov.Get(old); !info.Active {
		t.Fatal("revoked a key that a sink still holds")
	}
}

func TestUnreadableSinkBlocksRevocation(t *testing.T) {
	h := newHarness(t, nil)
	h.mustEval(Mode{})
	h.clock.Advance(24 * time.Hour)
	h.mustEval(Mode{})
	old := h.state().Retiring[0].ID
	h.targets[0].ReadFunc = func(context.Context) (sinks.Secret, error) { return nil, errors.New("timeout") }
	h.clock.Advance(2 * time.Hour)
	if _, err, _ := h.eval(Mode{}); err == nil {
		t.Fatal("want an error")
	}
	if info, _ := h.prov.Get(old); !info.Active {
		t.Fatal("revoked without being able to check every sink")
	}
}

func TestKeepAliveUsesTheKeyFromTheSink(t *testing.T) {
	h := newHarness(t, nil)
	h.mustEval(Mode{})
	tests := h.prov.Calls("test")
	h.clock.Advance(6 * time.Hour)
	out := h.mustEval(Mode{})
	if !out.KeptAlive || h.prov.Calls("test") != tests+1 {
		t.Fatalf("kept alive=%v tests=%d, want one keep-alive", out.KeptAlive, h.prov.Calls("test")-tests)
	}
	if got := h.state().LastUsedAt; !got.Equal(h.clock.Now()) {
		t.Errorf("last used = %s, want now", got)
	}
}

func TestInactiveKeyIsRotatedAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.mustEval(Mode{})
	cur := h.state().Current.ID
	h.prov.SetActive(cur, false) // the provider revoked it for inactivity
	h.clock.Advance(6 * time.Hour)
	if _, err, _ := h.eval(Mode{}); err == nil {
		t.Fatal("want the keep-alive failure reported")
	}
	if h.state().Emergency == "" {
		t.Fatal("emergency not recorded")
	}
	out := h.mustEval(Mode{})
	if !out.Rotated || out.Reason != ReasonEmergency {
		t.Fatalf("rotated=%v reason=%s, want an emergency rotation", out.Rotated, out.Reason)
	}
	h.clock.Advance(2 * time.Hour)
	h.mustEval(Mode{})
	h.checkConverged("after the emergency")
}

func TestNewKeyRejectedIsRevokedBeforeAnySinkSeesIt(t *testing.T) {
	h := newHarness(t, nil)
	h.e.o.VerifyAttempts = 1
	h.prov.TestFunc = func(context.Context, string, providers.Credential) (providers.KeyInfo, error) {
		return providers.KeyInfo{}, &providers.Error{Op: "test", Reason: providers.ReasonAuth, Status: 401}
	}
	if _, err, _ := h.eval(Mode{}); err == nil {
		t.Fatal("want an error")
	}
	if len(h.prov.Active()) != 0 {
		t.Error("the rejected key was left active")
	}
	if _, err := h.targets[0].Current(); !errors.Is(err, sinks.ErrNotFound) {
		t.Error("a sink was written with a key the provider rejects")
	}
}

// TestNewKeyIsVerifiedWithVerify: a provider with Verify proves each new
// key with one Verify call (one round trip at the real providers), never
// with Test, whose metadata reads are for keep-alive.
func TestNewKeyIsVerifiedWithVerify(t *testing.T) {
	h := newHarness(t, nil)
	var verified []string
	h.prov.VerifyFunc = func(_ context.Context, id string, cred providers.Credential) error {
		if !h.prov.Valid(cred) {
			t.Errorf("Verify of key %s got a credential the provider does not know", id)
		}
		verified = append(verified, id)
		return nil
	}
	tests := h.prov.Calls("test")
	out := h.mustEval(Mode{})
	if !out.Rotated {
		t.Fatal("no rotation")
	}
	first := h.state().Current.ID
	h.clock.Advance(time.Hour)
	if out := h.mustEval(Mode{Force: true}); !out.Rotated {
		t.Fatal("no forced rotation")
	}
	second := h.state().Current.ID
	if want := []string{first, second}; !slices.Equal(verified, want) {
		t.Errorf("Verify calls for keys %v, want one per new key %v", verified, want)
	}
	if got := h.prov.Calls("test") - tests; got != 0 {
		t.Errorf("Test was called %d times by rotations, want 0 (Verify replaces it)", got)
	}
	if h.sinkOf(0)["key_id"] != second {
		t.Errorf("sink holds %s, want the verified key %s", h.sinkOf(0)["key_id"], second)
	}
	h.checkNoSecretLeaked()
}

// TestNewKeyRejectedAtVerifyIsRevokedBeforeAnySinkSeesIt: Verify's
// ReasonAuth is retried (a provider may take a moment to accept a new key),
// then the key is abandoned: revoked, never written to a sink, and the
// current key is kept.
func TestNewKeyRejectedAtVerifyIsRevokedBeforeAnySinkSeesIt(t *testing.T) {
	h := newHarness(t, nil)
	h.mustEval(Mode{})
	cur := h.state().Current.ID
	before, _ := h.targets[0].Current()
	h.e.o.VerifyAttempts = 2
	calls := 0
	h.prov.VerifyFunc = func(context.Context, string, providers.Credential) error {
		calls++
		return &providers.Error{Op: "verify", Reason: providers.ReasonAuth, Status: 403, Code: "40102"}
	}
	h.prov.TestFunc = func(_ context.Context, id string, _ providers.Credential) (providers.KeyInfo, error) {
		if id != cur { // the forced pass keeps the current key alive: that is Test's job
			t.Errorf("Test called on key %s, not the current key %s", id, cur)
		}
		return h.prov.Touch(id)
	}
	done := make(chan error, 1)
	go func() { _, err, _ := h.eval(Mode{Force: true}); done <- err }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.clock.BlockUntilContext(ctx, 1); err != nil { // the wait before the second attempt
		t.Fatal(err)
	}
	h.clock.Advance(time.Second)
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "rejected by the provider") {
		t.Fatalf("err = %v, want the rejection reported", err)
	}
	if calls != 2 {
		t.Errorf("Verify called %d times, want 2 (VerifyAttempts)", calls)
	}
	if got := h.prov.Active(); !slices.Equal(got, []string{cur}) {
		t.Errorf("active keys %v, want only the current key %s (the rejected one revoked)", got, cur)
	}
	if st := h.state(); st.Current.ID != cur || st.Rotation != nil {
		t.Errorf("current %s, rotation in flight %v; want %s kept and the rotation abandoned", st.Current.ID, st.Rotation != nil, cur)
	}
	if after, _ := h.targets[0].Current(); after["key_id"] != before["key_id"] {
		t.Errorf("sink went from key %s to %s: a rejected key reached a sink", before["key_id"], after["key_id"])
	}
}

// TestVerifyFallsBackToTest: a provider without Verify is verified with
// Test, and a key Test reports inactive counts as rejected.
func TestVerifyFallsBackToTest(t *testing.T) {
	m := providertest.NewMemory(nil)
	p := testOnly{&m.Provider}
	if _, ok := providers.Provider(p).(providers.Verifier); ok {
		t.Fatal("testOnly implements Verifier")
	}
	key := m.Create("k")
	if err := verifyOnce(context.Background(), p, key.ID, key.Credential); err != nil {
		t.Fatalf("verify of a good key: %v", err)
	}
	if got := m.Calls("test"); got != 1 {
		t.Errorf("Test called %d times, want 1", got)
	}
	m.SetActive(key.ID, false)
	m.TestFunc = func(_ context.Context, id string, _ providers.Credential) (providers.KeyInfo, error) {
		return m.Get(id)
	}
	err := verifyOnce(context.Background(), p, key.ID, key.Credential)
	if providers.ReasonOf(err) != providers.ReasonAuth {
		t.Errorf("verify of a key reported inactive: %v, want ReasonAuth", err)
	}
}

// testOnly hides the Verify method of the provider it wraps.
type testOnly struct{ providers.Provider }

func TestEmptyCredentialIsNeverPushed(t *testing.T) {
	h := newHarness(t, nil)
	h.prov.CreateFunc = func(_ context.Context, name string, _ map[string]string) (providers.Key, error) {
		k := h.prov.Create(name)
		k.Credential["api_key"] = ""
		return k, nil
	}
	if _, err, _ := h.eval(Mode{}); err == nil || !strings.Contains(err.Error(), "empty api_key") {
		t.Fatalf("err = %v, want the empty credential named", err)
	}
	if _, err := h.targets[0].Current(); !errors.Is(err, sinks.ErrNotFound) {
		t.Error("an empty credential reached a sink")
	}
	if len(h.prov.Active()) != 0 {
		t.Error("the unusable key was left active")
	}
}

func TestPausedKeyIsNotRotatedUnlessForced(t *testing.T) {
	h := newHarness(t, func(k *config.Key) { k.Paused = true })
	if out := h.mustEval(Mode{}); out.Rotated {
		t.Fatal("a paused key was rotated")
	}
	if out := h.mustEval(Mode{Force: true}); !out.Rotated {
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
	h.mustEval(Mode{})
	old := h.state().Current.ID
	h.clock.Advance(time.Hour)
	h.mustEval(Mode{Force: true})
	h.clock.Advance(24 * time.Hour)
	if out := h.mustEval(Mode{}); !out.KeptAlive {
		t.Fatal("no keep-alive")
	}
	info, err := h.prov.Get(old)
	if err != nil || !info.LastUsedAt.Equal(h.clock.Now()) {
		t.Fatalf("the key in grace was last used %s, want now (%s); err %v", info.LastUsedAt, h.clock.Now(), err)
	}
	// Past its deadline it is revoked, not kept alive.
	h.clock.Advance(48 * time.Hour)
	if out := h.mustEval(Mode{}); out.Revoked != 1 {
		t.Fatalf("revoked %d, want the old key", out.Revoked)
	}
	h.checkConverged("after grace")
}
