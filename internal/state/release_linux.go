//go:build linux

package state

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// ReleasePages tells the kernel that the daemon does not need the pages of
// the state file it has read so far. bbolt reads the file through a
// read-only shared mapping, and every page a read touches stays in the
// process's resident memory: the start-up pass reads every record once
// (6.6 MiB at 10,000 keys, docs/performance.md), after which a key's
// record is read again only when that key is due.
//
// It is madvise(MADV_DONTNEED) over the mapping: the pages stay in the
// page cache and the next read of a record maps its page again, so no data
// can be lost (bbolt writes through the file, never through the mapping).
// It runs inside a read transaction, which keeps bbolt from remapping the
// file meanwhile. An error is returned, not logged: the caller decides.
func (s *Store) ReleasePages() error {
	return s.db.View(func(tx *bolt.Tx) error {
		size := tx.Size()
		if size == 0 {
			return nil
		}
		_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, s.db.Info().Data, uintptr(size), syscall.MADV_DONTNEED)
		if errno != 0 {
			return errno
		}
		return nil
	})
}
