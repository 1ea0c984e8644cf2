package leader

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// LeaderHolder reads the lease row: the holder id of the replica that
// leads now, "" when no replica does (no row, or it has expired by the
// database's clock). A follower names it when it refuses a request that
// only the leader may carry out, so that the operator knows where to send
// it. It is a hint: leadership may change right after the read.
func (l *Lease) LeaderHolder(ctx context.Context) (string, error) {
	var holder string
	err := l.pool.QueryRow(ctx, l.current, l.o.Name).Scan(&holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the leadership lease: %w", err)
	}
	return holder, nil
}
