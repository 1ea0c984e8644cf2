package hooks

import (
	"context"
	"errors"
	"time"

	"github.com/jonboulle/clockwork"
)

// errTimeout is the cause of a context that withTimeout ended.
var errTimeout = errors.New("hook timeout")

// withTimeout is context.WithTimeout on the injected clock. (clockwork's
// own fake-clock context blocks in Err until it is done.)
func withTimeout(parent context.Context, clock clockwork.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	t := clock.AfterFunc(d, func() { cancel(errTimeout) })
	return ctx, func() { t.Stop(); cancel(context.Canceled) }
}

// timedOut reports whether withTimeout's deadline ended ctx.
func timedOut(ctx context.Context) bool { return errors.Is(context.Cause(ctx), errTimeout) }
