package rotate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/sinks"
)

type leadershipFunc func(context.Context) error

func (f leadershipFunc) Check(ctx context.Context) error { return f(ctx) }

// A replica that lost the lease makes no side effect at a provider or a
// sink: the step stops before it, and is not counted as the key's failure.
func TestLostLeaseStopsBeforeCreateWriteAndRevoke(t *testing.T) {
	h := newHarness(t, nil)
	h.mustEval(Mode{})
	lost := false
	h.e.o.Leadership = leadershipFunc(func(context.Context) error {
		if lost {
			return errors.New("lease expired")
		}
		return nil
	})
	lost = true
	creates, revokes := h.prov.Calls("create"), h.prov.Calls("revoke")
	writes := 0
	write := h.targets[0].WriteFunc
	h.targets[0].WriteFunc = func(ctx context.Context, w sinks.Write) (string, error) { writes++; return write(ctx, w) }
	h.clock.Advance(25 * time.Hour)
	if _, err, _ := h.eval(Mode{}); !errors.Is(err, errNotLeader) {
		t.Fatalf("err = %v, want errNotLeader", err)
	}
	if h.prov.Calls("create") != creates || writes != 0 {
		t.Error("a deposed leader created a key or wrote a sink")
	}
	if st := h.state(); st.Failures != 0 {
		t.Errorf("losing the lease counted as %d failures of the key", st.Failures)
	}
	lost = false
	h.mustEval(Mode{}) // the rotation, now as leader again
	h.clock.Advance(2 * time.Hour)
	lost = true
	h.eval(Mode{})
	if h.prov.Calls("revoke") != revokes {
		t.Error("a deposed leader revoked a key")
	}
}
