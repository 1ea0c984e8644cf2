package rotate

import (
	"slices"

	"github.com/rotator-dev/rotator/internal/state"
)

// ReasonRetired: an operator retires a key the policy no longer has.
const ReasonRetired Reason = "retired"

// DecideRetire is the decision for a key that is no longer in the policy
// and that an operator retires (rotator retire K): every provider key its
// record still accounts for is revoked, each through the sink guard. In
// order: the key of a rotation left in flight (by id once created, else
// looked up by its provider-side name), the superseded keys, the current
// key, then the names whose create had no definite answer. Each key is
// listed once. Like Decide it does no I/O; the engine executes it
// (Engine.Retire).
func DecideRetire(st state.Key) Decision {
	var d Decision
	ids := map[string]bool{}
	revoke := func(id string) {
		if id != "" && !ids[id] {
			ids[id] = true
			d.Actions = append(d.Actions, Action{Kind: ActRevoke, Reason: ReasonRetired, KeyID: id})
		}
	}
	sweep := func(name string) {
		if !slices.ContainsFunc(d.Actions, func(a Action) bool { return a.Kind == ActSweep && a.Name == name }) {
			d.Actions = append(d.Actions, Action{Kind: ActSweep, Reason: ReasonRetired, Name: name})
		}
	}
	if rot := st.Rotation; rot != nil {
		if rot.KeyID != "" {
			revoke(rot.KeyID)
		} else if rot.KeyName != "" {
			sweep(rot.KeyName)
		}
	}
	for _, rt := range st.Retiring {
		revoke(rt.ID)
	}
	if st.Current != nil {
		revoke(st.Current.ID)
	}
	for _, w := range st.Watch {
		sweep(w.Name)
	}
	return d
}
