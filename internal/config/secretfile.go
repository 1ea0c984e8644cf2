package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxSecretFile bounds a *_file secret: a password, token or key is far
// smaller, and /dev/zero or a huge file must not exhaust memory.
const MaxSecretFile = 64 << 10

// readSecretFile reads a secret file: a regular file (a device, FIFO or
// folder is refused before it is opened, and again after, in case it was
// swapped: opening a FIFO would block) of at most MaxSecretFile bytes. It
// returns the file's permission bits.
func readSecretFile(path string) ([]byte, fs.FileMode, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, unwrapPathError(err)
	}
	if err := regular(path, st); err != nil {
		return nil, 0, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, unwrapPathError(err)
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, 0, unwrapPathError(err)
	}
	if err := regular(path, st); err != nil {
		return nil, 0, err
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretFile+1))
	if err != nil {
		return nil, 0, unwrapPathError(err)
	}
	if len(b) > MaxSecretFile {
		return nil, 0, fmt.Errorf("%s is larger than %d KiB: a secret file holds one password, token or key", path, MaxSecretFile>>10)
	}
	return b, st.Mode().Perm(), nil
}

// readBounded reads at most max bytes of the file at path, of any kind.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, max>>20)
	}
	return b, nil
}

func regular(path string, st fs.FileInfo) error {
	m := st.Mode()
	if m.IsRegular() {
		return nil
	}
	kind := "not a regular file"
	switch {
	case m.IsDir():
		kind = "a folder"
	case m&fs.ModeNamedPipe != 0:
		kind = "a FIFO"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeDevice != 0:
		kind = "a device"
	}
	return errors.New(path + " is " + kind + ": a secret file must be a regular file")
}
