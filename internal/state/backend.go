package state

import "time"

// Backend is a state store: the bbolt file (Store) or the shared database
// (pgstore.Store). The command line and the engine hold one through it, and
// storetest is its contract, which every implementation runs:
//
//   - Get returns the record of the named key; a key never stored returns
//     a record with only its name and no error.
//   - Put durably writes the record, replacing the key's previous one, by
//     the time it returns; concurrent Puts are safe and each key keeps the
//     last value Put. A Put after Close fails, naming the key.
//   - All returns every record, sorted by name.
//   - Append records an event in its key's audit trail, keeping the newest
//     DefaultHistory events of each key.
//   - Events returns the audit trail, oldest first: of one key, or of every
//     key when key is "", from since on (zero: all that is kept).
//   - Close releases the store; what was Put and Appended survives a
//     reopen of the same location.
type Backend interface {
	Get(name string) (Key, error)
	Put(k Key) error
	All() ([]Key, error)
	Append(ev Event) error
	Events(key string, since time.Time) ([]Event, error)
	Close() error
}

var _ Backend = (*Store)(nil)
