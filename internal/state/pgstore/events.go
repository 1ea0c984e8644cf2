package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotator-dev/rotator/internal/state"
)

// appendSQL inserts an event and drops the key's events beyond the newest
// state.DefaultHistory (the delete keeps DefaultHistory-1, then the
// insert adds one; both see the same snapshot).
func appendSQL(events string) string {
	keep := strconv.Itoa(state.DefaultHistory - 1)
	return "WITH old AS (DELETE FROM " + events + " WHERE key = $1 AND seq <= (SELECT seq FROM " + events +
		" WHERE key = $1 ORDER BY seq DESC OFFSET " + keep + " LIMIT 1))" +
		" INSERT INTO " + events + " (key, time_ns, event) VALUES ($1, $2, $3)"
}

// eventsSQL selects the trail of one key ($1) or of all ($1 empty), from
// $2 (Unix ns) on, in the bbolt store's order: time, key, then as
// appended.
func eventsSQL(events string) string {
	return "SELECT event FROM " + events + " WHERE ($1 = '' OR key = $1) AND time_ns >= $2" +
		` ORDER BY time_ns, key COLLATE "C", seq`
}

// Append records an event in its key's audit trail, keeping the newest
// state.DefaultHistory events of each key.
func (s *Store) Append(ev state.Event) error {
	return s.AppendFenced(ev, nil)
}

// AppendFenced is Append with fence checked in the same transaction.
func (s *Store) AppendFenced(ev state.Event, fence Fence) error {
	return s.write("record event of "+ev.Key, fence, s.appendEv, ev, ev.Key, unixNano(ev.Time))
}

// Events returns the audit trail, oldest first: of one key, or of every
// key when key is "", from since on (zero: all that is kept).
func (s *Store) Events(key string, since time.Time) ([]state.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	var out []state.Event
	err := retry(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, s.eventsOf, key, unixNano(since))
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (state.Event, error) {
			var v []byte
			var ev state.Event
			if err := r.Scan(&v); err != nil {
				return ev, err
			}
			return ev, json.Unmarshal(v, &ev)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the audit trail: %w", err)
	}
	return out, nil
}

// unixNano is t in Unix nanoseconds, clamped to int64 (the zero time is
// before every event).
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, -1<<63)):
		return -1 << 63
	case t.After(time.Unix(0, 1<<63-1)):
		return 1<<63 - 1
	}
	return t.UnixNano()
}
