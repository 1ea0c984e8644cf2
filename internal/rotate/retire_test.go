package rotate_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
	"github.com/rotator-dev/rotator/internal/state"
)

// retireHarness is the harness whose key "mail" has a current and a
// superseded key, with its targets' options (as the command line sets
// them), so that the state records them.
func retireHarness(t *testing.T) (*harness, state.Key) {
	t.Helper()
	h := newHarness(t, nil)
	m := h.Engine.Managed("mail")
	for j, name := range []string{"a", "b"} {
		m.Targets[j].Spec = `{"path":"` + name + `.json"}`
	}
	h.MustEval(rotate.Mode{})
	h.Clock.Advance(time.Minute)
	if out := h.MustEval(rotate.Mode{Force: true}); !out.Rotated {
		t.Fatal("no second rotation")
	}
	st := h.State()
	if st.Current == nil || len(st.Retiring) != 1 {
		t.Fatalf("want a current and a superseded key, got %+v", st)
	}
	return h, st
}

// removeMail reloads a policy without mail, whose sinks bind targets
// again from their recorded sections (counted in binds).
func removeMail(t *testing.T, h *harness, binds *[]string) {
	t.Helper()
	sinkOf := func(i int) sinks.Sink {
		return &sinktest.Sink{TypeName: "mem", BindFunc: func(sec config.Section) (sinks.Target, error) {
			var tc struct{ Path string }
			if err := sec.Decode(&tc, "sink", "fields"); err != nil {
				return nil, err
			}
			*binds = append(*binds, tc.Path)
			return h.Memory[i], nil
		}}
	}
	provs := map[string]providers.Provider{"mem": &h.Prov.Provider}
	if _, err := h.Engine.Reload(rotate.Policy{Providers: provs, Sinks: map[string]sinks.Sink{"a": sinkOf(0), "b": sinkOf(1)}}); err != nil {
		t.Fatal(err)
	}
}

// A key removed from the policy keeps its provider keys and is listed as
// unmanaged; retire refuses while it is managed, revokes what no target
// holds, leaves what a target still holds, and once the operator removed
// the secret there revokes the rest, marks the record retired (no longer
// listed) and records every step with the operator as actor.
func TestRetireRevokesThroughTheSinkGuard(t *testing.T) {
	h, st := retireHarness(t)
	if got := st.Targets; len(got) != 2 || got[0].Sink != "a" || got[1].Spec != `{"path":"b.json"}` {
		t.Fatalf("recorded targets %+v, want both with their sections", got)
	}
	ctx := context.Background()
	if _, err := h.Engine.Retire(ctx, "mail", "cli:alice", ""); !errors.Is(err, rotate.ErrStillManaged) {
		t.Fatalf("retire of a managed key: %v, want ErrStillManaged", err)
	}
	var binds []string
	removeMail(t, h, &binds)
	rows := rotate.Status(nil, []state.Key{h.State()}, h.Clock.Now())
	if len(rows) != 1 || rows[0].Managed || rows[0].CurrentKeyID != st.Current.ID {
		t.Fatalf("status %+v, want mail unmanaged with its key", rows)
	}
	old := st.Retiring[0].ID
	res, err := h.Engine.Retire(ctx, "mail", "cli:alice", "moved to news")
	if err == nil || !strings.Contains(err.Error(), "still holds") || !slices.Equal(res.Revoked, []string{old}) || len(res.Left) != 1 {
		t.Fatalf("retire while the targets hold the current key: %+v, %v", res, err)
	}
	if !h.active(st.Current.ID) || h.active(old) {
		t.Fatal("the key the targets hold was revoked, or the superseded one was not")
	}
	if !slices.Equal(binds, []string{"a.json", "b.json"}) {
		t.Errorf("targets bound again %q, want each once from its recorded section", binds)
	}
	for _, tg := range h.Memory { // the operator moved the consumers and removed the secret
		tg.ReadFunc = func(context.Context) (sinks.Secret, error) { return nil, sinks.ErrNotFound }
	}
	res, err = h.Engine.Retire(ctx, "mail", "cli:alice", "moved to news")
	if err != nil || !slices.Equal(res.Revoked, []string{st.Current.ID}) {
		t.Fatalf("retire: %+v, %v", res, err)
	}
	if len(binds) != 2 {
		t.Errorf("targets bound again on the second retire: %q", binds)
	}
	if got := h.Prov.Active(); len(got) != 0 {
		t.Errorf("keys still active at the provider: %v", got)
	}
	if after := h.State(); after.Retired == nil || !after.Idle() || len(rotate.Status(nil, []state.Key{after}, h.Clock.Now())) != 0 {
		t.Errorf("the record after retire: %+v, want it retired and no longer listed", after)
	}
	if res, err := h.Engine.Retire(ctx, "mail", "cli:alice", ""); err != nil || !res.Already {
		t.Errorf("second retire: %+v, %v, want already retired", res, err)
	}
	evs, _ := h.Store.Events("mail", t0)
	var trail []string
	for _, ev := range evs {
		if ev.Actor == "cli:alice" {
			trail = append(trail, ev.Action+":"+ev.Result)
		}
	}
	want := []string{"revoked:ok", "retired:failed", "revoked:ok", "retired:ok"} // a refusal of the guard is no revocation
	if !slices.Equal(trail, want) {
		t.Errorf("audit trail %q, want %q", trail, want)
	}
	h.CheckNoSecretLeaked()
}

// Retire refuses a key the state does not know, and a record that does
// not say which targets to read (written by an older rotator), revoking
// nothing.
func TestRetireRefusesWithoutRecordedTargets(t *testing.T) {
	h, st := retireHarness(t)
	var binds []string
	removeMail(t, h, &binds)
	if _, err := h.Engine.Retire(context.Background(), "nope", "cli:alice", ""); !errors.Is(err, rotate.ErrNotInState) {
		t.Errorf("retire of an unknown key: %v", err)
	}
	st.Targets = nil
	if err := h.Store.Put(st); err != nil {
		t.Fatal(err)
	}
	res, err := h.Engine.Retire(context.Background(), "mail", "cli:alice", "")
	if err == nil || !strings.Contains(err.Error(), "does not record the sink targets") || len(res.Left) != 2 {
		t.Fatalf("retire without recorded targets: %+v, %v", res, err)
	}
	if len(h.Prov.Active()) != 2 {
		t.Error("a key was revoked without reading its targets")
	}
}

// A key that left the policy before it ever got a provider key (its only
// attempt failed) is listed as unmanaged and retired with nothing to
// revoke.
func TestRetireAKeyThatNeverGotAProviderKey(t *testing.T) {
	h := newHarness(t, nil)
	ghost := state.Key{Name: "ghost", Failures: 1, LastError: "create refused"}
	if err := h.Store.Put(ghost); err != nil {
		t.Fatal(err)
	}
	if rows := rotate.Status(nil, []state.Key{ghost}, h.Clock.Now()); len(rows) != 1 || rows[0].Managed {
		t.Fatalf("status %+v, want ghost unmanaged", rows)
	}
	res, err := h.Engine.Retire(context.Background(), "ghost", "cli:alice", "")
	if err != nil || len(res.Revoked) != 0 || len(res.Left) != 0 || res.Already {
		t.Fatalf("retire: %+v, %v", res, err)
	}
	after, _ := h.Store.Get("ghost")
	if after.Retired == nil || len(rotate.Status(nil, []state.Key{after}, h.Clock.Now())) != 0 {
		t.Errorf("after retire: %+v, want it retired and no longer listed", after)
	}
}
