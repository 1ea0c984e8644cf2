package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// ErrCorrupt is matched (errors.Is) by the error of a state file whose
// structure or records fail their checks.
var ErrCorrupt = errors.New("state file is corrupt")

// CorruptError says what is wrong and what to do.
type CorruptError struct{ Detail string }

func (e *CorruptError) Error() string {
	return "state file is corrupt (" + e.Detail + "): restore it from a backup or rebuild it with `rotator state rebuild --config FILE`"
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func corrupt(format string, args ...any) error {
	return &CorruptError{Detail: fmt.Sprintf(format, args...)}
}

// guard runs fn, turning bbolt's panics on a damaged file and memory
// faults (a page pointing outside the mapped file: SIGSEGV or SIGBUS,
// otherwise fatal) into a CorruptError.
func guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			err = corrupt("reading it failed: %v", r)
		}
	}()
	return fn()
}

// checkPageRuns walks the pages in use as bbolt lays them out: each is
// free, or starts a run of 1+overflow pages (a branch, leaf or freelist
// page and its continuation). A run that ends past the file's high-water
// mark, or a page of no known type where a run should start, is damage.
func checkPageRuns(tx *bolt.Tx) error {
	hwm := int(tx.Size() / int64(tx.DB().Info().PageSize))
	for id := 2; id < hwm; {
		info, err := tx.Page(id)
		if err != nil {
			return corrupt("page %d: %v", id, err)
		}
		switch {
		case info == nil:
			return corrupt("page %d is past the end (%d pages)", id, hwm)
		case info.Type == "free":
			id++
		case info.Type != "branch" && info.Type != "leaf" && info.Type != "freelist":
			return corrupt("page %d: type %s where a page run starts", id, info.Type)
		case info.OverflowCount >= hwm-id:
			return corrupt("page %d: %d overflow pages run past the end (%d pages)", id, info.OverflowCount, hwm)
		default:
			id += 1 + info.OverflowCount
		}
	}
	return nil
}

// keyCount is the meta key holding the number of records (big-endian
// uint64) since schema 2, so that a page that lost records is noticed.
var keyCount = []byte("records")

// schemaOf reads the schema version; 0 for a file without one (new).
func schemaOf(tx *bolt.Tx) (int, error) {
	m := tx.Bucket(bucketMeta)
	if m == nil {
		// A new file has no bucket at all.
		if c := tx.Cursor(); c != nil {
			if k, _ := c.First(); k != nil {
				return 0, corrupt("bucket %q but no %q bucket", k, bucketMeta)
			}
		}
		return 0, nil
	}
	raw := m.Get(keySchema)
	v, err := strconv.Atoi(string(raw))
	if err != nil || v < 1 {
		return 0, corrupt("schema version %q is not a positive number: a damaged file, or not a rotator state file", raw)
	}
	if v > SchemaVersion {
		return 0, fmt.Errorf("%w (schema %d, this build reads up to %d): upgrade rotator", ErrFutureSchema, v, SchemaVersion)
	}
	return v, nil
}

// verify checks the whole file: bbolt's structural check (pages reachable
// once, types, key order), then every record: its checksum, that a lookup
// by its name finds it, and that their number matches the count kept
// beside them.
func verify(tx *bolt.Tx, schema int) error {
	b := tx.Bucket(bucketKeys)
	if b == nil && schema > 0 {
		return corrupt("no %q bucket", bucketKeys)
	}
	if b != nil {
		n := uint64(0)
		err := b.ForEach(func(name, v []byte) error {
			if err := checkRecord(schema, name, v); err != nil {
				return err
			}
			if !bytes.Equal(b.Get(name), v) {
				return corrupt("record %q is not found by its name", name)
			}
			n++
			return nil
		})
		if err != nil {
			return err
		}
		if schema >= 2 {
			c := tx.Bucket(bucketMeta).Get(keyCount)
			if len(c) != 8 || binary.BigEndian.Uint64(c) != n {
				return corrupt("%d records, but the file says %x", n, c)
			}
		}
	}
	if err := checkPageRuns(tx); err != nil {
		return err
	}
	// The check runs in its own goroutine, where a fault could not be
	// recovered, and trusts each page's overflow count (a huge one fills a
	// map for minutes): checkPageRuns went first. Drain its channel and
	// keep the first error.
	var first error
	for err := range tx.Check() {
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return corrupt("%v", first)
	}
	return nil
}
