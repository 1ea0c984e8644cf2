package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketEvents = []byte("events")

// Append records an event in its key's audit trail (reads and writes run
// under guard, like the records': a damaged page is an error, not a crash), keeping the newest
// DefaultHistory events of each key.
func (s *Store) Append(ev Event) error {
	v, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("record event of %s: %w", ev.Key, err)
	}
	err = guard(func() error {
		return s.db.Batch(func(tx *bolt.Tx) error {
			root, err := tx.CreateBucketIfNotExists(bucketEvents)
			if err != nil {
				return err
			}
			b, err := root.CreateBucketIfNotExists([]byte(ev.Key))
			if err != nil {
				return err
			}
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), v); err != nil {
				return err
			}
			if seq > DefaultHistory {
				return b.Delete(binary.BigEndian.AppendUint64(nil, seq-DefaultHistory))
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("record event of %s: %w", ev.Key, err)
	}
	return nil
}

// Events returns the audit trail, oldest first: of one key, or of every
// key when key is "", from since on (zero: all that is kept).
func (s *Store) Events(key string, since time.Time) ([]Event, error) {
	var out []Event
	err := guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			root := tx.Bucket(bucketEvents)
			if root == nil {
				return nil
			}
			return root.ForEachBucket(func(name []byte) error {
				if key != "" && string(name) != key {
					return nil
				}
				return root.Bucket(name).ForEach(func(_, v []byte) error {
					var ev Event
					if err := json.Unmarshal(v, &ev); err != nil {
						return fmt.Errorf("event of %s: %w", name, err)
					}
					if !ev.Time.Before(since) {
						out = append(out, ev)
					}
					return nil
				})
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the audit trail: %w", err)
	}
	sortEvents(out)
	return out, nil
}
