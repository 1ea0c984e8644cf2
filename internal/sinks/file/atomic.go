package file

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// atomicWrite replaces name in dir with b so that a reader sees either the
// old content or the new, never a part: it writes a temporary file in the
// same folder, syncs it, sets its mode, renames it over name and syncs the
// folder so that the rename survives a crash. The temporary file is
// removed on every error path. Errors carry file names, never content.
func atomicWrite(dir *os.Root, name string, b []byte, mode fs.FileMode) (err error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmpName := "." + name + ".tmp-" + hex.EncodeToString(rnd[:])
	tmp, err := dir.OpenFile(tmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create temp file: %w", bare(err))
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = dir.Remove(tmpName)
		}
	}()
	if _, err = tmp.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", tmpName, bare(err))
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmpName, bare(err))
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmpName, bare(err))
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmpName, bare(err))
	}
	if err = dir.Rename(tmpName, name); err != nil {
		return fmt.Errorf("rename: %w", bare(err))
	}
	if err = syncDir(dir); err != nil {
		// The file is in place; only its durability is in doubt.
		return fmt.Errorf("sync folder: %w", err)
	}
	return nil
}

func syncDir(dir *os.Root) error {
	d, err := dir.Open(".")
	if err != nil {
		return bare(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return bare(err)
	}
	return nil
}

// bare drops the file name from an *fs.PathError or *os.LinkError, for
// messages that name the file themselves.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
