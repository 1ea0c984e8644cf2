package rotate

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/state"
)

// TestLateCreateIsFoundAndRevoked: a create whose request times out at the
// client but reaches the provider later (held in a proxy or a load
// balancer) must not leave an untracked key. Its name is watched, and the
// key is revoked when it appears; meanwhile the attempt counts as one
// failure, and the next attempt comes after the normal backoff.
func TestLateCreateIsFoundAndRevoked(t *testing.T) {
	h := newHarness(t, nil)
	h.mustEval(Mode{})
	var late string
	h.prov.CreateFunc = func(_ context.Context, name string, _ map[string]string) (providers.Key, error) {
		late = name // reaches the provider only after the client gave up
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonTimeout, Message: "no response within 30s"}
	}
	h.clock.Advance(24 * time.Hour)
	if _, err, _ := h.eval(Mode{}); err == nil || !strings.Contains(err.Error(), "is revoked if it appears") {
		t.Fatalf("evaluate: err=%v, want the name watched", err)
	}
	st := h.state()
	if st.Rotation != nil || len(st.Watch) != 1 || st.Watch[0].Name != late || st.Failures != 1 {
		t.Fatalf("rotation=%+v watch=%+v failures=%d, want no rotation in flight, %s watched, one failure", st.Rotation, st.Watch, st.Failures, late)
	}
	first := late
	key := h.prov.Create(first) // the create lands now
	h.checkSafety("after the late create")

	h.clock.Advance(h.key.Timeout) // the name's check is due
	h.eval(Mode{})
	if info, _ := h.prov.Get(key.ID); info.Active {
		t.Errorf("the late key %s is still active", key.ID)
	}
	if st := h.state(); slices.ContainsFunc(st.Watch, func(w state.Watched) bool { return w.Name == first }) {
		t.Errorf("watch = %+v, want %s's watch ended once the late key was revoked", st.Watch, first)
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

// TestOneFailedCreateIsOneFailure is issue 11's finding 3: with @every 4s,
// timeout 8s and keepalive 1s, a single 503 on create used to count every
// re-check as another failure (8 in 5 seconds, the next attempt 68 minutes
// later). A definite answer from the provider needs no watch at all, the
// evaluations in between are not failures, and the next attempt comes
// after the backoff of one failure.
func TestOneFailedCreateIsOneFailure(t *testing.T) {
	for name, fail := range map[string]error{
		"definite 503":  &providers.Error{Op: "create", Reason: providers.ReasonServer, Status: 503, Message: "service unavailable"},
		"ambiguous 504": &providers.Error{Op: "create", Reason: providers.ReasonServer, Status: 504},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.mustEval(Mode{})
			calls := 0
			h.prov.CreateFunc = func(_ context.Context, name string, _ map[string]string) (providers.Key, error) {
				if calls++; calls == 1 {
					return providers.Key{}, fail
				}
				return h.prov.Create(name), nil
			}
			h.clock.Advance(24 * time.Hour)
			h.eval(Mode{})
			st := h.state()
			if wantWatch := name == "ambiguous 504"; (len(st.Watch) == 1) != wantWatch {
				t.Errorf("watch = %+v, want watched: %v", st.Watch, wantWatch)
			}
			for i := 0; i < 5; i++ { // keep-alive wakes in between
				h.clock.Advance(time.Second)
				h.eval(Mode{})
			}
			st = h.state()
			if st.Failures != 1 {
				t.Errorf("consecutive failures = %d, want 1", st.Failures)
			}
			if wait := st.NextAttemptAt.Sub(h.clock.Now()); wait > 40*time.Second {
				t.Errorf("next attempt in %s, want within the backoff of one failure (30s ±20%%)", wait)
			}
			h.clock.Advance(time.Minute)
			if out := h.mustEval(Mode{}); !out.Rotated {
				t.Error("no rotation after the backoff of one failure")
			}
		})
	}
}
