// Package state is the daemon's durable memory: one record per managed
// key in an embedded bbolt file (mode 0600, schema-versioned, locked so
// that only one rotator uses it). Records hold key ids and names, never a
// credential.
package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the version of the record layout this build writes:
// 2 adds a checksum to every record and their count (integrity.go); a
// schema-1 file is converted when opened for writing.
const SchemaVersion = 2

var (
	bucketMeta = []byte("meta")
	bucketKeys = []byte("keys")
	keySchema  = []byte("schema_version")
)

var (
	// ErrLocked is returned by Open when another process holds the file.
	ErrLocked = errors.New("state file is in use by another rotator process")
	// ErrFutureSchema is returned by Open for a file written by a newer
	// rotator.
	ErrFutureSchema = errors.New("state file was written by a newer rotator")
)

// Store is an open state file.
type Store struct {
	db     *bolt.DB
	schema int

	// mu guards pending and committing (see Put).
	mu         sync.Mutex
	pending    []*pendingPut
	committing bool
}

// Options tune Open.
type Options struct {
	// ReadOnly opens without writing (for --status); it still waits for the
	// lock.
	ReadOnly bool
	// LockTimeout is how long to wait for another process's lock; 0 means
	// 1s.
	LockTimeout time.Duration
}

// Open opens or creates the state file.
func Open(path string, o Options) (*Store, error) {
	if o.LockTimeout == 0 {
		o.LockTimeout = time.Second
	}
	if !o.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("open state %s: %w", path, err)
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	var db *bolt.DB
	err := guard(func() (err error) {
		// The free pages are loaded here, under guard, also when
		// read-only: checkPageRuns needs them.
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: o.LockTimeout, ReadOnly: o.ReadOnly, PreLoadFreelist: true})
		return err
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open state %s: %w (stop the other instance, or point state.path elsewhere)", path, ErrLocked)
		}
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.init(o.ReadOnly); err != nil {
		db.Close()
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	if !o.ReadOnly {
		// bbolt creates the file with the mode given, but an existing file
		// keeps its own: tighten it.
		if err := os.Chmod(path, 0o600); err != nil {
			db.Close()
			return nil, fmt.Errorf("open state %s: %w", path, err)
		}
	}
	return s, nil
}

// init checks the whole file (verify), then, when writing, creates the
// buckets of a new file or converts a schema-1 file.
func (s *Store) init(readOnly bool) error {
	err := guard(func() error {
		return s.db.View(func(tx *bolt.Tx) (err error) {
			if s.schema, err = schemaOf(tx); err != nil {
				return err
			}
			return verify(tx, s.schema)
		})
	})
	if err != nil || readOnly {
		return err
	}
	return guard(func() error { return s.db.Update(s.prepare) })
}

// prepare makes the file a current-schema one: a new file gets its
// buckets, a schema-1 file every record's checksum and the count.
func (s *Store) prepare(tx *bolt.Tx) error {
	m, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	b, err := tx.CreateBucketIfNotExists(bucketKeys)
	if err != nil {
		return err
	}
	if s.schema == SchemaVersion {
		return nil
	}
	var names, values [][]byte
	err = b.ForEach(func(name, v []byte) error {
		names, values = append(names, bytes.Clone(name)), append(values, encodeRecord(name, v))
		return nil
	})
	if err != nil {
		return err
	}
	b.FillPercent = fillPercent
	for i := range names {
		if err := b.Put(names[i], values[i]); err != nil {
			return err
		}
	}
	if err := m.Put(keyCount, binary.BigEndian.AppendUint64(nil, uint64(len(names)))); err != nil {
		return err
	}
	if err := m.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
		return err
	}
	s.schema = SchemaVersion
	return nil
}

// Close releases the file and its lock.
func (s *Store) Close() error { return s.db.Close() }

// Get returns the record of the named key; a key never seen returns a
// record with only its name.
func (s *Store) Get(name string) (Key, error) {
	k := Key{Name: name}
	err := guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketKeys)
			if b == nil {
				return nil
			}
			v := b.Get([]byte(name))
			if v == nil {
				return nil
			}
			var err error
			k, err = decodeRecord(s.schema, []byte(name), v)
			return err
		})
	})
	if err != nil {
		return Key{Name: name}, fmt.Errorf("read state of %s: %w", name, err)
	}
	return k, nil
}

// Put durably writes the record (fsynced before Put returns). Puts that
// arrive while a commit is in progress share the next commit and its
// fsync (group commit); a Put with none in progress commits at once, so a
// lone step never waits for company (bbolt's Batch would hold it 10ms).
func (s *Store) Put(k Key) error {
	js, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("write state of %s: %w", k.Name, err)
	}
	p := &pendingPut{name: []byte(k.Name), value: encodeRecord([]byte(k.Name), js), done: make(chan commitTurn, 1)}
	s.mu.Lock()
	s.pending = append(s.pending, p)
	lead := !s.committing
	s.committing = true
	s.mu.Unlock()
	if lead {
		s.commit()
	}
	for {
		turn := <-p.done
		if turn.lead {
			s.commit()
			continue
		}
		if turn.err != nil {
			return fmt.Errorf("write state of %s: %w", k.Name, turn.err)
		}
		return nil
	}
}

// pendingPut is one Put waiting for a commit.
type pendingPut struct {
	name, value []byte
	done        chan commitTurn
}

// commitTurn is what a waiting Put is told: its record was committed (err
// is the commit's result), or it is to lead the next commit itself.
type commitTurn struct {
	err  error
	lead bool
}

// fillPercent is how full bbolt fills the pages it splits.
const fillPercent = 0.9

// commit writes every pending Put (the caller's among them) in one
// transaction and tells each its result. Puts that arrived meanwhile are
// committed by the first of them, so that no caller commits for others
// for longer than one round. Only one goroutine commits at a time.
func (s *Store) commit() {
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	err := guard(func() error { return s.db.Update(func(tx *bolt.Tx) error { return putAll(tx, batch) }) })
	for _, p := range batch {
		p.done <- commitTurn{err: err}
	}
	s.mu.Lock()
	if len(s.pending) > 0 {
		s.pending[0].done <- commitTurn{lead: true}
	} else {
		s.committing = false
	}
	s.mu.Unlock()
}

// putAll writes a batch and keeps the record count.
func putAll(tx *bolt.Tx, batch []*pendingPut) error {
	b, m := tx.Bucket(bucketKeys), tx.Bucket(bucketMeta)
	// Records are rewritten in place far more often than keys are
	// added, so split pages are filled to 90% instead of bbolt's 50%:
	// the file (and its mapped pages) is ~40% smaller.
	b.FillPercent = fillPercent
	added := uint64(0)
	for _, p := range batch {
		if b.Get(p.name) == nil {
			added++
		}
		if err := b.Put(p.name, p.value); err != nil {
			return err
		}
	}
	if added == 0 {
		return nil
	}
	c := m.Get(keyCount)
	if len(c) != 8 {
		return corrupt("record count %x is not 8 bytes", c)
	}
	return m.Put(keyCount, binary.BigEndian.AppendUint64(nil, binary.BigEndian.Uint64(c)+added))
}

// All returns every record, sorted by name.
func (s *Store) All() ([]Key, error) {
	var out []Key
	err := guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketKeys)
			if b == nil {
				return nil
			}
			return b.ForEach(func(name, v []byte) error {
				k, err := decodeRecord(s.schema, name, v)
				out = append(out, k)
				return err
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
