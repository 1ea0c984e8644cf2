package rotate_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/providertest"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks"
)

func TestNewKeyRejectedIsRevokedBeforeAnySinkSeesIt(t *testing.T) {
	h := newHarness(t, nil)
	h.Engine.Opts().VerifyAttempts = 1
	h.Prov.TestFunc = func(context.Context, string, providers.Credential) (providers.KeyInfo, error) {
		return providers.KeyInfo{}, &providers.Error{Op: "test", Reason: providers.ReasonAuth, Status: 401}
	}
	if _, err, _ := h.Eval(rotate.Mode{}); err == nil {
		t.Fatal("want an error")
	}
	if len(h.Prov.Active()) != 0 {
		t.Error("the rejected key was left active")
	}
	if _, err := h.Memory[0].Current(); !errors.Is(err, sinks.ErrNotFound) {
		t.Error("a sink was written with a key the provider rejects")
	}
}

// TestNewKeyIsVerifiedWithVerify: a provider with Verify proves each new
// key with one Verify call (one round trip at the real providers), never
// with Test, whose metadata reads are for keep-alive.
func TestNewKeyIsVerifiedWithVerify(t *testing.T) {
	h := newHarness(t, nil)
	var verified []string
	h.Prov.VerifyFunc = func(_ context.Context, id string, cred providers.Credential) error {
		if !h.Prov.Valid(cred) {
			t.Errorf("Verify of key %s got a credential the provider does not know", id)
		}
		verified = append(verified, id)
		return nil
	}
	tests := h.Prov.Calls("test")
	out := h.MustEval(rotate.Mode{})
	if !out.Rotated {
		t.Fatal("no rotation")
	}
	first := h.State().Current.ID
	h.Clock.Advance(time.Hour)
	if out := h.MustEval(rotate.Mode{Force: true}); !out.Rotated {
		t.Fatal("no forced rotation")
	}
	second := h.State().Current.ID
	if want := []string{first, second}; !slices.Equal(verified, want) {
		t.Errorf("Verify calls for keys %v, want one per new key %v", verified, want)
	}
	if got := h.Prov.Calls("test") - tests; got != 0 {
		t.Errorf("Test was called %d times by rotations, want 0 (Verify replaces it)", got)
	}
	if h.SinkOf(0)["key_id"] != second {
		t.Errorf("sink holds %s, want the verified key %s", h.SinkOf(0)["key_id"], second)
	}
	h.CheckNoSecretLeaked()
}

// TestNewKeyRejectedAtVerifyIsRevokedBeforeAnySinkSeesIt: Verify's
// ReasonAuth is retried (a provider may take a moment to accept a new key),
// then the key is abandoned: revoked, never written to a sink, and the
// current key is kept.
func TestNewKeyRejectedAtVerifyIsRevokedBeforeAnySinkSeesIt(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	cur := h.State().Current.ID
	before, _ := h.Memory[0].Current()
	h.Engine.Opts().VerifyAttempts = 2
	calls := 0
	h.Prov.VerifyFunc = func(context.Context, string, providers.Credential) error {
		calls++
		return &providers.Error{Op: "verify", Reason: providers.ReasonAuth, Status: 403, Code: "40102"}
	}
	h.Prov.TestFunc = func(_ context.Context, id string, _ providers.Credential) (providers.KeyInfo, error) {
		if id != cur { // the forced pass keeps the current key alive: that is Test's job
			t.Errorf("Test called on key %s, not the current key %s", id, cur)
		}
		return h.Prov.Touch(id)
	}
	done := make(chan error, 1)
	go func() { _, err, _ := h.Eval(rotate.Mode{Force: true}); done <- err }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Clock.BlockUntilContext(ctx, 1); err != nil { // the wait before the second attempt
		t.Fatal(err)
	}
	h.Clock.Advance(time.Second)
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "rejected by the provider") {
		t.Fatalf("err = %v, want the rejection reported", err)
	}
	if calls != 2 {
		t.Errorf("Verify called %d times, want 2 (VerifyAttempts)", calls)
	}
	if got := h.Prov.Active(); !slices.Equal(got, []string{cur}) {
		t.Errorf("active keys %v, want only the current key %s (the rejected one revoked)", got, cur)
	}
	if st := h.State(); st.Current.ID != cur || st.Rotation != nil {
		t.Errorf("current %s, rotation in flight %v; want %s kept and the rotation abandoned", st.Current.ID, st.Rotation != nil, cur)
	}
	if after, _ := h.Memory[0].Current(); after["key_id"] != before["key_id"] {
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
	if err := rotate.VerifyOnce(context.Background(), p, key.ID, key.Credential); err != nil {
		t.Fatalf("verify of a good key: %v", err)
	}
	if got := m.Calls("test"); got != 1 {
		t.Errorf("Test called %d times, want 1", got)
	}
	m.SetActive(key.ID, false)
	m.TestFunc = func(_ context.Context, id string, _ providers.Credential) (providers.KeyInfo, error) {
		return m.Get(id)
	}
	err := rotate.VerifyOnce(context.Background(), p, key.ID, key.Credential)
	if providers.ReasonOf(err) != providers.ReasonAuth {
		t.Errorf("verify of a key reported inactive: %v, want ReasonAuth", err)
	}
}

// testOnly hides the Verify method of the provider it wraps.
type testOnly struct{ providers.Provider }

func TestEmptyCredentialIsNeverPushed(t *testing.T) {
	h := newHarness(t, nil)
	h.Prov.CreateFunc = func(_ context.Context, name string, _ map[string]string) (providers.Key, error) {
		k := h.Prov.Create(name)
		k.Credential["api_key"] = ""
		return k, nil
	}
	if _, err, _ := h.Eval(rotate.Mode{}); err == nil || !strings.Contains(err.Error(), "empty api_key") {
		t.Fatalf("err = %v, want the empty credential named", err)
	}
	if _, err := h.Memory[0].Current(); !errors.Is(err, sinks.ErrNotFound) {
		t.Error("an empty credential reached a sink")
	}
	if len(h.Prov.Active()) != 0 {
		t.Error("the unusable key was left active")
	}
}
