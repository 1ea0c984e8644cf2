//go:build !linux

package state

// ReleasePages does nothing where madvise is not used (see
// release_linux.go).
func (s *Store) ReleasePages() error { return nil }
