package rotate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks"
)

type leadershipFunc func(context.Context) error

func (f leadershipFunc) Check(ctx context.Context) error { return f(ctx) }

// A replica that lost the lease makes no side effect at a provider or a
// sink: the step stops before it, and is not counted as the key's failure.
func TestLostLeaseStopsBeforeCreateWriteAndRevoke(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	lost := false
	h.Engine.Opts().Leadership = leadershipFunc(func(context.Context) error {
		if lost {
			return errors.New("lease expired")
		}
		return nil
	})
	lost = true
	creates, revokes := h.Prov.Calls("create"), h.Prov.Calls("revoke")
	writes := 0
	write := h.Memory[0].WriteFunc
	h.Memory[0].WriteFunc = func(ctx context.Context, w sinks.Write) (string, error) { writes++; return write(ctx, w) }
	h.Clock.Advance(25 * time.Hour)
	if _, err, _ := h.Eval(rotate.Mode{}); !errors.Is(err, rotate.ErrNotLeader) {
		t.Fatalf("err = %v, want rotate.ErrNotLeader", err)
	}
	if h.Prov.Calls("create") != creates || writes != 0 {
		t.Error("a deposed leader created a key or wrote a sink")
	}
	if st := h.State(); st.Failures != 0 {
		t.Errorf("losing the lease counted as %d failures of the key", st.Failures)
	}
	lost = false
	h.MustEval(rotate.Mode{}) // the rotation, now as leader again
	h.Clock.Advance(2 * time.Hour)
	lost = true
	h.Eval(rotate.Mode{})
	if h.Prov.Calls("revoke") != revokes {
		t.Error("a deposed leader revoked a key")
	}
}
