package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rotator-dev/rotator/internal/control"
	"github.com/rotator-dev/rotator/internal/rotate"
)

// retire revokes every provider key of keys that left the policy, through
// the sink guard, and marks their records retired. A key still in the
// policy, or one the state does not know, is a usage error (exit 2).
func (op *operator) retire(ctx context.Context, actor string, req control.Request, out, errw io.Writer) int {
	code := exitOK
	for _, name := range req.Keys {
		res, err := op.engine.Retire(ctx, name, actor, req.Reason)
		switch {
		case errors.Is(err, rotate.ErrStillManaged) || errors.Is(err, rotate.ErrNotInState):
			fmt.Fprintf(errw, "rotator: retire: %v%s\n", err, op.unmanagedHint(name))
			code = exitConfig
		case res.Already:
			fmt.Fprintf(out, "%s: already retired\n", name)
		case err != nil:
			fmt.Fprintf(out, "%s: FAILED: %v%s\n", name, err, leftOf(res))
			code = max(code, exitFailed)
		default:
			fmt.Fprintf(out, "%s: retired, revoked %d provider key(s)%s\n", name, len(res.Revoked), idList(res.Revoked))
		}
	}
	return code
}

// unmanagedHint names the keys retire can act on, with the closest first.
func (op *operator) unmanagedHint(name string) string {
	rows, err := op.status()
	if err != nil {
		return ""
	}
	var names []string
	for _, r := range rows {
		if !r.Managed {
			names = append(names, r.Key)
		}
	}
	if len(names) == 0 {
		return " (no key in the state is unmanaged)"
	}
	hint := " (unmanaged keys: " + strings.Join(names, ", ") + ")"
	if s := suggest(name, names); s != "" && s != name {
		hint = fmt.Sprintf("; did you mean %q?%s", s, hint)
	}
	return hint
}

// leftOf says what a failed retire revoked and left.
func leftOf(res rotate.RetireResult) string {
	var parts []string
	if len(res.Revoked) > 0 {
		parts = append(parts, "revoked "+strings.Join(res.Revoked, ", "))
	}
	if len(res.Left) > 0 {
		parts = append(parts, "still alive: "+strings.Join(res.Left, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func idList(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ": " + strings.Join(ids, ", ")
}
