package rotate

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/state"
)

// Plan prints, without any call to a provider or a sink, the Decision that
// RunOnce (or, with daemon set, the daemon's next evaluation) would
// execute for every key now: the same Decide, the same mode.
func (e *Engine) Plan(w io.Writer, o Once, daemon bool) error {
	modes, err := e.onceModes(o)
	if err != nil {
		return err
	}
	now := e.clock.Now()
	fmt.Fprintf(w, "plan at %s (dry run: nothing is created, written or revoked)\n", now.UTC().Format(time.RFC3339))
	for i, r := range e.runners() {
		m := r.managed()
		name := m.Policy.Name
		st, err := e.o.Store.Get(name)
		if err != nil {
			return err
		}
		mode := modes[i]
		if daemon {
			mode = Mode{}
		}
		fmt.Fprintf(w, "\nkey %s (provider %s)\n", name, m.Policy.Provider)
		e.printDecision(w, m, st, Decide(m.Policy, st, mode, now), mode, now)
	}
	return nil
}

func (e *Engine) printDecision(w io.Writer, m *Managed, st state.Key, d Decision, mode Mode, now time.Time) {
	for _, a := range d.Actions {
		switch a.Kind {
		case ActResume:
			printResume(w, st.Rotation)
			if a.RevokeOld && st.Current != nil && st.Rotation.Step != state.StepIntent {
				fmt.Fprintf(w, "    then revoke the current key %s at once (grace 0s), after checking no sink still holds it\n", st.Current.ID)
			}
		case ActRevoke:
			rt := retiring(st, a.KeyID)
			fmt.Fprintf(w, "  revoke: key %s at %s (%s), after checking no sink still holds it\n", a.KeyID, rt.Provider, revokeWhy(a, rt, now))
		case ActRotate:
			if st.Rotation != nil {
				fmt.Fprintln(w, "  if the interrupted rotation cannot be finished:")
			}
			e.printRotate(w, m, st, a)
		case ActKeepAlive:
			fmt.Fprintf(w, "  keep-alive: use key %s at the provider (credential read back from a sink; reason: %s)\n", a.KeyID, a.Reason)
		case ActSweep:
			fmt.Fprintf(w, "  look up %s (a create with no definite answer) and revoke it if it exists\n", a.Name)
		case ActCheckUsage:
			fmt.Fprintf(w, "  check usage: ask the provider when key %s was last used (revoke_when: unused)\n", a.KeyID)
		case ActSync:
			fmt.Fprintf(w, "  sync: write the current key %s to the targets a reload added (read back from a sink that holds it)\n", a.KeyID)
		}
	}
	for _, wt := range d.Waits {
		at := wt.At.UTC().Format(time.RFC3339)
		switch wt.Kind {
		case ActResume:
			fmt.Fprintf(w, "  wait: the interrupted rotation is retried at %s (backoff)\n", at)
		case ActRevoke:
			fmt.Fprintf(w, "  wait: key %s is revoked at %s (%s)\n", wt.KeyID, at, wt.Reason)
		case ActRotate:
			fmt.Fprintf(w, "  no rotation: next at %s (%s)\n", at, wt.Reason)
		case ActKeepAlive:
			fmt.Fprintf(w, "  keep-alive: next at %s (%s)\n", at, wt.Reason)
		case ActSweep:
			fmt.Fprintf(w, "  wait: a create with no definite answer is looked up again at %s\n", at)
		case ActCheckUsage:
			fmt.Fprintf(w, "  wait: key %s was used too recently to revoke; its use is checked again at %s\n", wt.KeyID, at)
		case ActSync:
			fmt.Fprintf(w, "  wait: writing the current key to added targets is retried at %s\n", at)
		}
	}
	if _, ok := d.Action(ActRotate); !ok {
		switch {
		case mode.NoRotate:
			fmt.Fprintln(w, "  no rotation: not selected by --key")
		case st.Rotation == nil && (m.Policy.Paused || st.Paused != nil):
			fmt.Fprintln(w, "  no rotation: the key is paused")
		}
	}
}

func printResume(w io.Writer, rot *state.Rotation) {
	if rot.Step == state.StepIntent {
		fmt.Fprintf(w, "  resume: look up %s (created by an interrupted attempt) and revoke it if it exists\n", rot.KeyName)
		return
	}
	fmt.Fprintf(w, "  resume: finish rotation %s to key %s (step %s): recover its credential from a sink and write every sink, or revoke it if no sink holds it\n",
		rot.ID, rot.KeyID, rot.Step)
}

func (e *Engine) printRotate(w io.Writer, m *Managed, st state.Key, a Action) {
	k := m.Policy
	params := make([]string, 0, len(k.Params))
	for _, p := range slices.Sorted(maps.Keys(k.Params)) {
		params = append(params, p+"="+k.Params[p])
	}
	fmt.Fprintf(w, "  rotate (reason: %s)\n", a.Reason)
	fmt.Fprintf(w, "    create key %s%s-<UTC timestamp>-<random> at %s (%s)\n", k.NamePrefix, k.Name, k.Provider, strings.Join(params, ", "))
	fmt.Fprintln(w, "    test the new key at the provider")
	for _, t := range m.Targets {
		if _, staged := t.Target.(sinks.Promoter); staged {
			fmt.Fprintf(w, "    stage %s (sink %s), read it back, then make it current\n", t.Target, t.Sink)
			continue
		}
		fmt.Fprintf(w, "    write %s (sink %s) and read it back\n", t.Target, t.Sink)
	}
	switch {
	case st.Current == nil:
	case a.RevokeOld && k.Grace == 0:
		fmt.Fprintf(w, "    revoke the current key %s at once (grace 0s), after checking no sink still holds it\n", st.Current.ID)
	case a.RevokeOld:
		fmt.Fprintf(w, "    revoke the current key %s as soon as every sink holds the new one (grace skipped)\n", st.Current.ID)
	default:
		fmt.Fprintf(w, "    revoke the current key %s after grace %s\n", st.Current.ID, k.Grace)
	}
}

func retiring(st state.Key, id string) state.Retiring {
	for _, rt := range st.Retiring {
		if rt.ID == id {
			return rt
		}
	}
	return state.Retiring{}
}

func revokeWhy(a Action, rt state.Retiring, now time.Time) string {
	switch a.Reason {
	case ReasonOperator:
		return "asked by an operator"
	case ReasonRetry:
		return fmt.Sprintf("retry after %d failed attempts", rt.Attempts)
	case ReasonUnused:
		return "grace ended and the provider reports no use for quiet"
	case ReasonMaxGrace:
		return "still in use at max_grace: revoked anyway"
	}
	return fmt.Sprintf("grace ended %s ago", human(now.Sub(rt.RevokeAfter)))
}

// onceModes is the mode of every key (in engine order) for a RunOnce.
func (e *Engine) onceModes(o Once) ([]Mode, error) {
	names := e.names()
	selected := map[string]bool{}
	for _, k := range o.Keys {
		if !slices.Contains(names, k) {
			return nil, fmt.Errorf("--key %s: no such key in the configuration (keys: %s)", k, listNames(names, 10))
		}
		selected[k] = true
	}
	modes := make([]Mode, len(names))
	for i, name := range names {
		modes[i] = Mode{IgnoreBackoff: true}
		switch {
		case len(selected) > 0 && !selected[name]:
			modes[i].NoRotate = true
		case !o.DueOnly:
			modes[i].Force = true
		}
	}
	return modes, nil
}

// listNames joins at most n names, saying how many more there are.
func listNames(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}
