package rotate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
)

// TestLateCreateIsFoundAndRevoked: a create whose request times out at the
// client but reaches the provider later (held in a proxy or a load
// balancer) must not leave an untracked key. The intent is kept until the
// rotation timeout has passed, so the next evaluation finds the late key
// by its recorded name and revokes it. (Found by the e2e provider-fault
// test: the intent used to be cleared by the first, empty, lookup.)
func TestLateCreateIsFoundAndRevoked(t *testing.T) {
	h := newHarness(t, nil)
	h.mustEval(Mode{})
	var late string
	h.prov.CreateFunc = func(_ context.Context, name string, _ map[string]string) (providers.Key, error) {
		late = name // reaches the provider only after the client gave up
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonTimeout, Message: "no response within 30s"}
	}
	h.clock.Advance(24 * time.Hour)
	if _, err, _ := h.eval(Mode{}); err == nil || !strings.Contains(err.Error(), "may still reach the provider") {
		t.Fatalf("evaluate: err=%v, want the intent kept", err)
	}
	key := h.prov.Create(late) // the create lands now
	h.checkSafety("after the late create")
	if st := h.state(); st.Rotation == nil || st.Rotation.KeyName != late {
		t.Fatalf("rotation = %+v, want the intent for %s kept", st.Rotation, late)
	}

	h.clock.Advance(h.key.Timeout / 2) // the backoff passes, the timeout not yet
	h.eval(Mode{})
	if info, _ := h.prov.Get(key.ID); info.Active {
		t.Errorf("the late key %s is still active", key.ID)
	}
	h.checkSafety("after the lookup")

	h.prov.CreateFunc = func(_ context.Context, name string, _ map[string]string) (providers.Key, error) {
		return h.prov.Create(name), nil
	}
	h.clock.Advance(time.Hour)
	if out := h.mustEval(Mode{}); !out.Rotated {
		t.Fatal("no rotation once creates work again")
	}
	h.clock.Advance(h.key.Grace)
	h.mustEval(Mode{})
	h.checkConverged("after the retry and the grace period")
}
