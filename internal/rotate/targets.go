package rotate

import (
	"errors"
	"fmt"
	"maps"

	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/state"
)

// noteTargets records in the key's state the sink targets of the policy
// it runs under, so that once the key leaves the policy `rotator retire`
// still knows what to read before it revokes. It reports whether the
// record changed.
func (e *Engine) noteTargets(r *keyRunner, st *state.Key) bool {
	k := r.k
	if sameTargets(st.Targets, k.Targets) {
		return false
	}
	refs := make([]state.Target, len(k.Targets))
	for i, t := range k.Targets {
		refs[i] = state.Target{Sink: t.Sink, Target: t.Target.String(), Spec: t.Spec, Fields: t.Fields}
	}
	st.Targets = refs
	return true
}

func sameTargets(refs []state.Target, ts []BoundTarget) bool {
	if len(refs) != len(ts) {
		return false
	}
	for i, t := range ts {
		if refs[i].Sink != t.Sink || refs[i].Target != t.Target.String() || refs[i].Spec != t.Spec || !maps.Equal(refs[i].Fields, t.Fields) {
			return false
		}
	}
	return true
}

// retiredTarget identifies a target bound for a retired key.
type retiredTarget struct {
	sink sinks.Sink
	desc string
}

// bindRecorded is the target a retired key recorded, to read: the same
// target another key of the policy writes now, else bound again from the
// recorded section through the configured sink of that name.
func (e *Engine) bindRecorded(name string, i int, ref state.Target) (BoundTarget, error) {
	bt := BoundTarget{Sink: ref.Sink, Fields: ref.Fields}
	for _, r := range e.runners() {
		for _, t := range r.managed().Targets {
			if t.Sink == ref.Sink && t.Target.String() == ref.Target {
				bt.Target = t.Target
				return bt, nil
			}
		}
	}
	s := e.sink(ref.Sink)
	if s == nil {
		return bt, fmt.Errorf("%s: sink %q is no longer in the policy: add it back so that the target can be read", ref.Target, ref.Sink)
	}
	id := retiredTarget{sink: s, desc: ref.Target}
	if t, ok := e.retiredBound[id]; ok { // retireMu held
		bt.Target = t
		return bt, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(ref.Spec), &doc); err != nil || len(doc.Content) == 0 {
		return bt, fmt.Errorf("%s: the state does not record the target's options", ref.Target)
	}
	t, err := s.Bind(config.Section{Path: fmt.Sprintf("state of %s: targets[%d]", name, i), Type: s.Type(), Node: doc.Content[0]})
	if err != nil {
		return bt, fmt.Errorf("%s: %w", ref.Target, err)
	}
	if t.String() != ref.Target {
		return bt, errors.New(ref.Target + ": the sink binds the recorded target as " + t.String())
	}
	if e.retiredBound == nil {
		e.retiredBound = map[retiredTarget]sinks.Target{}
	}
	e.retiredBound[id] = t
	bt.Target = t
	return bt, nil
}

// sink is the configured sink of that name, nil when none.
func (e *Engine) sink(name string) sinks.Sink {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.o.Sinks[name]
}
