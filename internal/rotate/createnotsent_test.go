package rotate

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
)

// A create that was never sent (the provider's login before it timed
// out) is a definite failure: nothing is looked up or watched, and the
// error says what failed without mentioning an unknown outcome or a
// look-up (issue 16: failures read true).
func TestCreateNotSentIsADefiniteFailure(t *testing.T) {
	h := newHarness(t, nil)
	h.mustEval(Mode{})
	login := &providers.Error{Op: "login", Reason: providers.ReasonTimeout, Message: "POST /oauth/token to mem: no response within 30s"}
	h.prov.CreateFunc = func(context.Context, string, map[string]string) (providers.Key, error) { return providers.Key{}, login }
	lists := 0
	list := h.prov.ListFunc
	h.prov.ListFunc = func(ctx context.Context, prefix string) ([]providers.KeyInfo, error) {
		lists++
		return list(ctx, prefix)
	}
	h.clock.Advance(24 * time.Hour)
	_, err, _ := h.eval(Mode{})
	if err == nil || !strings.HasSuffix(err.Error(), ": create key: "+login.Error()) {
		t.Fatalf("evaluate: err = %v, want create key: %v alone", err, login)
	}
	st := h.state()
	if st.Rotation != nil || len(st.Watch) != 0 || lists != 0 || st.Failures != 1 {
		t.Errorf("rotation %+v, watch %+v, %d look-ups, %d failures: want none in flight, nothing watched or looked up, one failure",
			st.Rotation, st.Watch, lists, st.Failures)
	}
	for _, e := range h.logs.All() {
		if m := fmt.Sprint(e.Message, " ", e.ContextMap()["error"]); strings.Contains(m, "outcome is unknown") || strings.Contains(m, "look") {
			t.Errorf("the log speaks of a look-up: %s", m)
		}
	}
}
