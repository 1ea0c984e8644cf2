package rotate_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/state"
)

// A create that was never sent (the provider's login before it timed
// out) is a definite failure: nothing is looked up or watched, and the
// error says what failed without mentioning an unknown outcome or a
// look-up (issue 16: failures read true).
func TestCreateNotSentIsADefiniteFailure(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	login := &providers.Error{Op: "login", Reason: providers.ReasonTimeout, Message: "POST /oauth/token to mem: no response within 30s"}
	h.Prov.CreateFunc = func(context.Context, string, map[string]string) (providers.Key, error) { return providers.Key{}, login }
	lists := 0
	list := h.Prov.ListFunc
	h.Prov.ListFunc = func(ctx context.Context, prefix string) ([]providers.KeyInfo, error) {
		lists++
		return list(ctx, prefix)
	}
	h.Clock.Advance(24 * time.Hour)
	_, err, _ := h.Eval(rotate.Mode{})
	if err == nil || !strings.HasSuffix(err.Error(), ": create key: "+login.Error()) {
		t.Fatalf("evaluate: err = %v, want create key: %v alone", err, login)
	}
	st := h.State()
	if st.Rotation != nil || len(st.Watch) != 0 || lists != 0 || st.Failures != 1 {
		t.Errorf("rotation %+v, watch %+v, %d look-ups, %d failures: want none in flight, nothing watched or looked up, one failure",
			st.Rotation, st.Watch, lists, st.Failures)
	}
	for _, e := range h.Logs.All() {
		if m := fmt.Sprint(e.Message, " ", e.ContextMap()["error"]); strings.Contains(m, "outcome is unknown") || strings.Contains(m, "look") {
			t.Errorf("the log speaks of a look-up: %s", m)
		}
	}
}

// A create ended by the rotation's own timeout (a provider that never
// answers) is not looked up at once, which could only fail the same way:
// the error says the name is looked up at the next attempt, and it is.
func TestCreateCutByTheRotationTimeoutIsLookedUpNextAttempt(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	h.Key.Timeout = 300 * time.Millisecond // on the real clock
	h.Restart()
	h.Prov.CreateFunc = func(ctx context.Context, _ string, _ map[string]string) (providers.Key, error) {
		<-ctx.Done() // never answers
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonTimeout, Err: context.Cause(ctx)}
	}
	lists := 0
	list := h.Prov.ListFunc
	h.Prov.ListFunc = func(ctx context.Context, prefix string) ([]providers.KeyInfo, error) {
		lists++
		return list(ctx, prefix)
	}
	h.Clock.Advance(24 * time.Hour)
	_, err, _ := h.Eval(rotate.Mode{})
	st := h.State()
	if err == nil || !strings.HasSuffix(err.Error(), "(its outcome is unknown: "+st.Rotation.KeyName+" is looked up at the next attempt)") || lists != 0 {
		t.Fatalf("err = %v after %d look-ups, want the look-up left to the next attempt", err, lists)
	}
	name := st.Rotation.KeyName
	h.Clock.Advance(time.Hour)
	h.Eval(rotate.Mode{})
	if st := h.State(); lists == 0 || !slices.ContainsFunc(st.Watch, func(w state.Watched) bool { return w.Name == name }) {
		t.Errorf("%d look-ups, watch %+v: want %s looked up and watched at the next attempt", lists, st.Watch, name)
	}
}
