package pgstore

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// maxAttempts bounds retry: waits of 50, 200 and 800 ms between them.
const maxAttempts = 4

// retry runs op again after a failure of the connection rather than of
// the statement: a restarted or failed-over server closes every
// connection, and the pool reconnects. Every operation of the store may
// be repeated: reads, and writes of a whole record (a repeated Put writes
// the same record; a fenced one checks its fence again).
func retry(ctx context.Context, op func(ctx context.Context) error) error {
	wait := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil || attempt == maxAttempts || !transient(err) || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 4
	}
}

// transientCodes are server errors after which the same statement may
// succeed on a new connection or transaction: the server shutting down,
// crashed or starting up, a serialization failure or deadlock (class 08,
// connection exceptions, too).
var transientCodes = []string{"57P01", "57P02", "57P03", "40001", "40P01"}

// transient reports whether err is a connection's failure, not the
// statement's.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || slices.Contains(transientCodes, pgErr.Code)
	}
	var netErr net.Error
	return pgconn.SafeToRetry(err) || errors.As(err, &netErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
