package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// MaxFileSize bounds what the sink reads back: a secret file rotator wrote
// is a few hundred bytes; anything larger is not one of its files.
const MaxFileSize = 1 << 20

// Every path below the sink's dir is opened through an os.Root on dir, so
// that nothing the sink does can leave it whatever links the folder holds;
// on top of that the sink refuses symbolic links and non-regular files
// below dir outright, so that a link cannot redirect a secret inside dir
// either, and a FIFO or device cannot block or flood a read.

// openDir opens the sink's dir. With create, a dir that does not exist is
// created (mode 0700) when its parent folder exists; when the parent is
// missing too, the error says what to do and names the `dir` field
// (yamlPath). Without create, a missing dir is an error wrapping
// fs.ErrNotExist.
func openDir(dir, yamlPath string, create bool) (*os.Root, error) {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return nil, errors.New("not a folder")
	case create && errors.Is(err, fs.ErrNotExist):
		parent := filepath.Dir(dir)
		if pfi, perr := os.Stat(parent); perr != nil || !pfi.IsDir() {
			return nil, fmt.Errorf("the folder does not exist, nor does its parent %s: create it (mkdir -p -m 0700 %s) or change %s", parent, dir, yamlPath)
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create the folder: %w", bare(err))
		}
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, bare(err)
	}
	return r, nil
}

// openFolder opens the folder rel (a clean, local path; "." is root
// itself) below root, one component at a time, refusing a component that
// is a symbolic link or not a folder. With create it makes missing
// folders (mode 0700); without, a missing one is an error wrapping
// fs.ErrNotExist. The caller closes the result.
func openFolder(root *os.Root, rel string, create bool) (*os.Root, error) {
	cur, err := root.OpenRoot(".")
	if err != nil {
		return nil, bare(err)
	}
	if rel == "." {
		return cur, nil
	}
	done := ""
	for _, c := range strings.Split(filepath.ToSlash(rel), "/") {
		done = filepath.Join(done, c)
		next, err := step(cur, c, done, create)
		cur.Close()
		if err != nil {
			return nil, err
		}
		cur = next
	}
	return cur, nil
}

func step(cur *os.Root, name, shown string, create bool) (*os.Root, error) {
	fi, err := cur.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := cur.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create folder %s: %w", shown, bare(err))
		}
		fi, err = cur.Lstat(name)
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("folder %s: %w", shown, bare(err))
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("folder %s is a symbolic link: the file sink follows no links below its dir", shown)
	case !fi.IsDir():
		return nil, fmt.Errorf("%s is not a folder", shown)
	}
	next, err := cur.OpenRoot(name)
	if err != nil {
		return nil, fmt.Errorf("folder %s: %w", shown, bare(err))
	}
	return next, nil
}

// checkRegular refuses what is not a regular file: a symbolic link, a
// FIFO, a device, a folder.
func checkRegular(fi fs.FileInfo) error {
	switch m := fi.Mode(); {
	case m&fs.ModeSymlink != 0:
		return errors.New("the file is a symbolic link: the file sink follows no links below its dir")
	case !m.IsRegular():
		return fmt.Errorf("the file is not a regular file but %s", fileKind(m))
	}
	return nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "type " + m.Type().String()
}

// readFile reads name in dir, a regular file of at most MaxFileSize bytes,
// without following a link. It honours ctx between chunks. A missing file
// is an error wrapping fs.ErrNotExist.
func readFile(ctx context.Context, dir *os.Root, name string) ([]byte, error) {
	fi, err := dir.Lstat(name)
	if err != nil {
		return nil, bare(err)
	}
	if err := checkRegular(fi); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should a FIFO replace the file after the Lstat, opening
	// it does not wait for a writer. It changes nothing for a regular file.
	f, err := dir.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, bare(err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, bare(err)
	}
	if err := checkRegular(fi); err != nil {
		return nil, err
	}
	if fi.Size() > MaxFileSize {
		return nil, tooLarge()
	}
	b := make([]byte, 0, fi.Size()+512)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > MaxFileSize {
			return nil, tooLarge()
		}
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return nil, bare(err)
		}
	}
}

func tooLarge() error {
	return fmt.Errorf("the file is larger than %d KiB, which no file the sink writes is", MaxFileSize>>10)
}
