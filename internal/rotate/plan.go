package rotate

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/state"
)

// Plan describes, without any call to a provider or a sink, what RunOnce
// (or the daemon's next evaluation) would do: which keys would be created,
// which sinks written, which keys revoked, and why.
func (e *Engine) Plan(w io.Writer, o Once, daemon bool) error {
	selected := map[string]bool{}
	for _, k := range o.Keys {
		if e.keys[k] == nil {
			return fmt.Errorf("--key %s: no such key in the configuration", k)
		}
		selected[k] = true
	}
	now := e.clock.Now()
	fmt.Fprintf(w, "plan at %s (dry run: nothing is created, written or revoked)\n", now.UTC().Format(time.RFC3339))
	for _, name := range e.order {
		r := e.keys[name]
		k := r.k.Policy
		st, err := e.o.Store.Get(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\nkey %s (provider %s)\n", name, k.Provider)
		force := !daemon && !o.DueOnly && (len(selected) == 0 || selected[name])
		noRotate := !daemon && len(selected) > 0 && !selected[name]
		if rot := st.Rotation; rot != nil {
			switch rot.Step {
			case state.StepIntent:
				fmt.Fprintf(w, "  resume: look up %s (created by an interrupted attempt) and revoke it if it exists\n", rot.KeyName)
			default:
				fmt.Fprintf(w, "  resume: finish rotation %s to key %s (step %s): recover its credential from a sink and write every sink, or revoke it if no sink holds it\n",
					rot.ID, rot.KeyID, rot.Step)
			}
		}
		for _, rt := range st.Retiring {
			if now.Before(rt.RevokeAfter) {
				fmt.Fprintf(w, "  wait: key %s is in grace until %s\n", rt.ID, rt.RevokeAfter.UTC().Format(time.RFC3339))
				continue
			}
			fmt.Fprintf(w, "  revoke: key %s at %s (grace ended %s ago), after checking no sink still holds it\n",
				rt.ID, rt.Provider, human(now.Sub(rt.RevokeAfter)))
		}
		reason, rotate := DefaultChain.Evaluate(Input{Key: k, State: st, Now: now, Forced: force})
		switch {
		case noRotate:
			fmt.Fprintln(w, "  no rotation: not selected by --key")
		case st.Rotation != nil:
		case rotate:
			params := make([]string, 0, len(k.Params))
			for p, v := range k.Params {
				params = append(params, p+"="+v)
			}
			sort.Strings(params)
			fmt.Fprintf(w, "  rotate (reason: %s)\n", reason)
			fmt.Fprintf(w, "    create key %s at %s (%s)\n", ProviderKeyName(k.NamePrefix, k.Name, now)[:len(k.NamePrefix)+len(k.Name)+1]+"<UTC timestamp>-<random>",
				k.Provider, strings.Join(params, ", "))
			fmt.Fprintln(w, "    test the new key at the provider")
			for _, t := range r.k.Targets {
				if _, staged := t.Target.(sinks.Promoter); staged {
					fmt.Fprintf(w, "    stage %s (sink %s), read it back, then make it current\n", t.Target, t.Sink)
					continue
				}
				fmt.Fprintf(w, "    write %s (sink %s) and read it back\n", t.Target, t.Sink)
			}
			if st.Current != nil {
				if k.Grace == 0 {
					fmt.Fprintf(w, "    revoke the current key %s at once (grace 0s)\n", st.Current.ID)
				} else {
					fmt.Fprintf(w, "    revoke the current key %s after grace %s\n", st.Current.ID, k.Grace)
				}
			}
		case reason == ReasonPaused:
			fmt.Fprintln(w, "  no rotation: the key is paused")
		default:
			fmt.Fprintf(w, "  no rotation: next scheduled at %s\n", NextRotation(k, st).UTC().Format(time.RFC3339))
		}
		if st.Current != nil && k.KeepAlive > 0 {
			if next := e.nextKeepAlive(k, st); !now.Before(next) || force {
				fmt.Fprintf(w, "  keep-alive: use key %s at the provider (credential read back from a sink)\n", st.Current.ID)
			} else {
				fmt.Fprintf(w, "  keep-alive: next at %s\n", next.UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}
