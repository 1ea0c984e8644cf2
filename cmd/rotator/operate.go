package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotator-dev/rotator/internal/control"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/state"
)

// operator carries out the control commands (rotate, revoke, retire, pause,
// resume, reload, status, history) on an engine and its store: in the
// daemon for requests through the control API, and in the CLI itself when
// no daemon runs. Both print the same thing.
type operator struct {
	engine *rotate.Engine // nil: status and history only (read-only store)
	store  state.Backend  // nil: no state file yet
	// status is every key's row now.
	status func() ([]rotate.StatusRow, error)
	clock  clockwork.Clock
	// reload reloads the policy; nil when no daemon runs.
	reload func(ctx context.Context) (string, error)
}

// do carries out one request for actor.
func (op *operator) do(ctx context.Context, actor string, req control.Request) control.Response {
	var out, errb bytes.Buffer
	code := op.dispatch(ctx, actor, req, &out, &errb)
	return control.Response{Stdout: out.String(), Stderr: errb.String(), Exit: code}
}

func (op *operator) dispatch(ctx context.Context, actor string, req control.Request, out, errw io.Writer) int {
	if op.engine == nil && req.Command != "status" && req.Command != "history" && req.Command != "reload" {
		fmt.Fprintf(errw, "rotator: %s needs a writable state file\n", req.Command)
		return exitFailed
	}
	switch req.Command {
	case "rotate":
		return op.rotate(ctx, actor, req, out, errw)
	case "revoke":
		return op.revoke(ctx, actor, req, out, errw)
	case "retire":
		return op.retire(ctx, actor, req, out, errw)
	case "pause", "resume":
		return op.pause(ctx, actor, req, out, errw)
	case "reload":
		if op.reload == nil {
			fmt.Fprintln(errw, "rotator: no daemon is running: there is nothing to reload (the next start reads the policy)")
			return exitFailed
		}
		msg, err := op.reload(ctx)
		if err != nil {
			fmt.Fprintf(errw, "rotator: reload failed, the daemon keeps its running policy: %v\n", err)
			return exitFailed
		}
		fmt.Fprintln(out, msg)
		return exitOK
	case "status":
		return op.writeStatus(req, out, errw)
	case "history":
		return op.history(req, out, errw)
	}
	fmt.Fprintf(errw, "rotator: unknown control command %q\n", req.Command)
	return exitConfig
}

// rotate rotates each key now; with RevokeOldNow the superseded keys go
// as soon as every sink holds the new key.
func (op *operator) rotate(ctx context.Context, actor string, req control.Request, out, errw io.Writer) int {
	code := exitOK
	for _, name := range req.Keys {
		o, err := op.engine.Evaluate(ctx, name, rotate.Mode{Force: true, RevokeSuperseded: req.RevokeOldNow, Actor: actor, Note: req.Reason})
		st, _ := op.store.Get(name)
		switch {
		case err != nil:
			fmt.Fprintf(out, "%s: FAILED: %v%s\n", name, err, left(st))
			code = exitFailed
		case !o.Rotated:
			fmt.Fprintf(out, "%s: FAILED: not rotated: %s%s\n", name, skipped(o), left(st))
			code = exitFailed
		case req.RevokeOldNow && len(st.Retiring) > 0:
			fmt.Fprintf(out, "%s: rotated, new key %s in every sink; FAILED to revoke%s\n", name, currentID(st), left(st))
			code = exitFailed
		default:
			fmt.Fprintf(out, "%s: rotated, new key %s in every sink; revoked %d superseded key(s)%s\n", name, currentID(st), o.Revoked, left(st))
		}
	}
	return code
}

// revoke ends the grace of the key's superseded keys now.
func (op *operator) revoke(ctx context.Context, actor string, req control.Request, out, errw io.Writer) int {
	name := req.Keys[0]
	o, err := op.engine.Evaluate(ctx, name, rotate.Mode{NoRotate: true, RevokeSuperseded: true, Actor: actor, Note: req.Reason})
	st, _ := op.store.Get(name)
	if err != nil || len(st.Retiring) > 0 {
		msg := "not every superseded key could be revoked"
		if err != nil {
			msg = err.Error()
		}
		fmt.Fprintf(out, "%s: FAILED: %s%s\n", name, msg, left(st))
		return exitFailed
	}
	fmt.Fprintf(out, "%s: revoked %d superseded key(s)\n", name, o.Revoked)
	return exitOK
}

func (op *operator) pause(ctx context.Context, actor string, req control.Request, out, errw io.Writer) int {
	name := req.Keys[0]
	var err error
	if req.Command == "pause" {
		err = op.engine.Pause(name, actor, req.Reason)
	} else if err = op.engine.Resume(name, actor); err == nil && op.reload != nil {
		// In the daemon a rotation that became due during the pause runs
		// now, rather than at the key's next wake-up.
		go func() { _, _ = op.engine.Evaluate(context.WithoutCancel(ctx), name, rotate.Mode{}) }()
	}
	if err != nil {
		fmt.Fprintf(errw, "rotator: %s: %v\n", req.Command, err)
		if errors.Is(err, rotate.ErrUnknownKey) {
			return exitConfig
		}
		return exitFailed
	}
	fmt.Fprintf(out, "%s: %sd by %s\n", name, req.Command, actor)
	return exitOK
}

func (op *operator) writeStatus(req control.Request, out, errw io.Writer) int {
	rows, err := op.status()
	if err != nil {
		fmt.Fprintf(errw, "rotator: %v\n", err)
		return exitFailed
	}
	if req.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rows)
		return exitOK
	}
	_ = rotate.WriteStatus(out, rows, op.clock.Now())
	return exitOK
}

// history prints the audit trail, as a table or JSON lines.
func (op *operator) history(req control.Request, out, errw io.Writer) int {
	if op.store == nil {
		return exitOK // no state file yet: nothing happened
	}
	key := ""
	if len(req.Keys) > 0 {
		key = req.Keys[0]
	}
	var since time.Time
	if req.Since > 0 {
		since = op.clock.Now().Add(-req.Since)
	}
	events, err := op.store.Events(key, since)
	if err != nil {
		fmt.Fprintf(errw, "rotator: %v\n", err)
		return exitFailed
	}
	if req.JSON {
		enc := json.NewEncoder(out)
		for _, ev := range events {
			_ = enc.Encode(ev)
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tKEY\tACTION\tACTOR\tREASON\tRESULT\tKEY ID\tOLD KEY IDS\tNOTE")
	for _, ev := range events {
		note := ev.Note
		if ev.Error != "" {
			note = strings.TrimSpace(note + " error: " + ev.Error)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.UTC().Format(time.RFC3339), ev.Key, ev.Action,
			ev.Actor, ev.Reason, ev.Result, dash(ev.KeyID), dash(strings.Join(ev.OldKeyIDs, ",")), note)
	}
	_ = tw.Flush()
	return exitOK
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func currentID(st state.Key) string {
	if st.Current == nil {
		return "(none)"
	}
	return st.Current.ID
}

// left names what an operator request left undone: superseded keys still
// alive, a rotation still in flight.
func left(st state.Key) string {
	var parts []string
	if st.Rotation != nil {
		parts = append(parts, "a rotation is still in flight")
	}
	if n := len(st.Retiring); n > 0 {
		ids := make([]string, n)
		for i, rt := range st.Retiring {
			ids[i] = rt.ID
		}
		parts = append(parts, "superseded keys still alive: "+strings.Join(ids, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// skipped says why the rotate action did not run.
func skipped(o rotate.Outcome) string {
	for _, a := range o.Actions {
		if a.Skipped != "" {
			return a.Skipped
		}
	}
	return "no rotation was due"
}

// cliActor is "cli:<unix user>" for a request made by this process.
func cliActor() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return fmt.Sprintf("cli:uid%d", os.Getuid())
}
