package rotate_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/state"
)

// TestLateCreateIsFoundAndRevoked: a create whose request times out at the
// client but reaches the provider later (held in a proxy or a load
// balancer) must not leave an untracked key. Its name is watched, and the
// key is revoked when it appears; meanwhile the attempt counts as one
// failure, and the next attempt comes after the normal backoff.
func TestLateCreateIsFoundAndRevoked(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	var late string
	h.Prov.CreateFunc = func(_ context.Context, name string, _ map[string]string) (providers.Key, error) {
		late = name // reaches the provider only after the client gave up
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonTimeout, Message: "no response within 30s"}
	}
	h.Clock.Advance(24 * time.Hour)
	if _, err, _ := h.Eval(rotate.Mode{}); err == nil || !strings.Contains(err.Error(), "is revoked if it appears") {
		t.Fatalf("evaluate: err=%v, want the name watched", err)
	}
	st := h.State()
	if st.Rotation != nil || len(st.Watch) != 1 || st.Watch[0].Name != late || st.Failures != 1 {
		t.Fatalf("rotation=%+v watch=%+v failures=%d, want no rotation in flight, %s watched, one failure", st.Rotation, st.Watch, st.Failures, late)
	}
	first := late
	key := h.Prov.Create(first) // the create lands now
	h.CheckSafety("after the late create")

	h.Clock.Advance(h.Key.Timeout) // the name's check is due
	h.Eval(rotate.Mode{})
	if info, _ := h.Prov.Get(key.ID); info.Active {
		t.Errorf("the late key %s is still active", key.ID)
	}
	if st := h.State(); slices.ContainsFunc(st.Watch, func(w state.Watched) bool { return w.Name == first }) {
		t.Errorf("watch = %+v, want %s's watch ended once the late key was revoked", st.Watch, first)
	}
	h.CheckSafety("after the lookup")

	h.Prov.CreateFunc = func(_ context.Context, name string, _ map[string]string) (providers.Key, error) {
		return h.Prov.Create(name), nil
	}
	h.Clock.Advance(time.Hour)
	if out := h.MustEval(rotate.Mode{}); !out.Rotated {
		t.Fatal("no rotation once creates work again")
	}
	h.Clock.Advance(h.Key.Grace)
	h.MustEval(rotate.Mode{})
	h.CheckConverged("after the retry and the grace period")
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
			h.MustEval(rotate.Mode{})
			calls := 0
			h.Prov.CreateFunc = func(_ context.Context, name string, _ map[string]string) (providers.Key, error) {
				if calls++; calls == 1 {
					return providers.Key{}, fail
				}
				return h.Prov.Create(name), nil
			}
			h.Clock.Advance(24 * time.Hour)
			h.Eval(rotate.Mode{})
			st := h.State()
			if wantWatch := name == "ambiguous 504"; (len(st.Watch) == 1) != wantWatch {
				t.Errorf("watch = %+v, want watched: %v", st.Watch, wantWatch)
			}
			for i := 0; i < 5; i++ { // keep-alive wakes in between
				h.Clock.Advance(time.Second)
				h.Eval(rotate.Mode{})
			}
			st = h.State()
			if st.Failures != 1 {
				t.Errorf("consecutive failures = %d, want 1", st.Failures)
			}
			if wait := st.NextAttemptAt.Sub(h.Clock.Now()); wait > 40*time.Second {
				t.Errorf("next attempt in %s, want within the backoff of one failure (30s ±20%%)", wait)
			}
			h.Clock.Advance(time.Minute)
			if out := h.MustEval(rotate.Mode{}); !out.Rotated {
				t.Error("no rotation after the backoff of one failure")
			}
		})
	}
}
