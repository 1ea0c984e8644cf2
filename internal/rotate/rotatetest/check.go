package rotatetest

import (
	"bytes"
	"os"
	"strings"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks"
)

// The checks below hold for the default in-memory provider and targets.

// CheckSafety asserts what must hold at every moment: no sink holds a
// revoked key, and every active key at the provider is tracked (by id,
// intent name or watched name).
func (r *Rig) CheckSafety(when string) {
	r.t.Helper()
	st := r.State()
	for _, id := range r.Prov.Active() {
		if info, _ := r.Prov.Get(id); !st.Tracks(id, info.Name) {
			r.t.Errorf("%s: active key %s (%s) is not tracked; provider: %s", when, id, info.Name, r.Prov)
		}
	}
	for i, tg := range r.Memory {
		s, err := tg.Current()
		if err != nil {
			continue
		}
		if !r.Prov.Valid(providers.Credential{"api_key": s["api_key"]}) {
			r.t.Errorf("%s: sink %d holds key %s, which the provider no longer accepts", when, i, s[rotate.FieldKeyID])
		}
	}
}

// CheckConverged asserts the steady state: one active key, current, in
// every sink.
func (r *Rig) CheckConverged(when string) {
	r.t.Helper()
	st := r.State()
	if st.Current == nil || st.Rotation != nil || len(st.Retiring) != 0 {
		r.t.Fatalf("%s: not converged: current=%v rotation=%v retiring=%d", when, st.Current, st.Rotation, len(st.Retiring))
	}
	if got := r.Prov.Active(); len(got) != 1 || got[0] != st.Current.ID {
		r.t.Errorf("%s: active keys %v, want only the current %s", when, got, st.Current.ID)
	}
	for i, tg := range r.Memory {
		s, err := tg.Current()
		if err != nil {
			r.t.Fatalf("%s: sink %d: %v", when, i, err)
		}
		if s[rotate.FieldKeyID] != st.Current.ID {
			r.t.Errorf("%s: sink %d holds %s, want current %s", when, i, s[rotate.FieldKeyID], st.Current.ID)
		}
	}
}

// CheckNoSecretLeaked asserts that no issued secret is in any log line,
// any error Eval returned, or the state file.
func (r *Rig) CheckNoSecretLeaked() {
	r.t.Helper()
	var text strings.Builder
	for _, e := range r.Logs.All() {
		text.WriteString(e.Message)
		for _, f := range e.Context {
			text.WriteString(" " + f.Key + "=" + f.String)
			if f.Interface != nil {
				if err, ok := f.Interface.(error); ok {
					text.WriteString(err.Error())
				}
			}
		}
		text.WriteString("\n")
	}
	for _, err := range r.Errs {
		text.WriteString(err.Error() + "\n")
	}
	file, err := os.ReadFile(r.Path)
	if err != nil {
		r.t.Fatal(err)
	}
	issued := r.Prov.Issued()
	if len(issued) == 0 {
		r.t.Fatal("no secret was issued: the leak check would prove nothing")
	}
	for _, s := range issued {
		if strings.Contains(text.String(), s) {
			r.t.Errorf("secret %s... leaked into logs or errors", s[:6])
		}
		if bytes.Contains(file, []byte(s)) {
			r.t.Errorf("secret %s... is in the state file", s[:6])
		}
	}
}

// SinkOf returns what memory target i holds.
func (r *Rig) SinkOf(i int) sinks.Secret {
	r.t.Helper()
	s, err := r.Memory[i].Current()
	if err != nil {
		r.t.Fatalf("sink %d: %v", i, err)
	}
	return s
}
