// Package file is the `file` sink: it writes each target's secret to a file
// under one folder, as JSON or as an env file, atomically (temp file, fsync,
// rename, folder fsync) with the configured mode (0600 by default).
//
// Contract, beyond sinks.Target:
//   - Write skips the write when the file already holds the same bytes and
//     mode, so a retried rotation changes nothing; it returns version "".
//   - The file sink does not detect concurrent modification: the last
//     writer wins (each write replaces the file whole). It never returns
//     sinks.ErrConflict.
//   - Read parses the file back; a missing file is sinks.ErrNotFound.
//   - Every path below dir is opened through an os.Root on dir, one folder
//     at a time: a symbolic link below dir (a folder or the file) is
//     refused, as is a file that is not regular (FIFO, device) or larger
//     than MaxFileSize; nothing is ever read or written outside dir.
//   - Ownership (marker.go): every file written carries rotator's marker
//     (an env file's first comment line, a JSON file's "_managed_by"
//     field, which Read leaves out). Write refuses to replace a file
//     without it (sinks.ErrNotOwned) unless the target sets adopt: true.
//   - Two targets of one sink may not name the same file.
//   - Errors and log lines name files and fields, never values.
package file

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
)

// Sink is a configured file sink.
type Sink struct {
	cfg     Config
	log     *zap.Logger
	dirPath string // YAML path of `dir`, for errors: "sinks.local.dir"

	mu    sync.Mutex
	bound map[string]string // file → YAML path of the target that binds it
}

var (
	_ sinks.Sink    = (*Sink)(nil)
	_ sinks.Checker = (*Sink)(nil)
	_ sinks.Target  = (*Target)(nil)
)

// New returns the sink. It touches no file: Check verifies the folder.
func New(cfg Config, deps sinks.Deps) (*Sink, error) {
	if cfg.Dir == "" {
		return nil, errors.New("file sink: dir is empty")
	}
	if cfg.Mode == 0 {
		cfg.Mode = DefaultMode
	}
	log := deps.Logger
	if log == nil {
		log = zap.NewNop()
	}
	dirPath := "the sink's dir"
	if deps.Name != "" {
		dirPath = "sinks." + deps.Name + ".dir"
	}
	return &Sink{cfg: cfg, log: log, dirPath: dirPath, bound: map[string]string{}}, nil
}

// Type implements sinks.Sink.
func (s *Sink) Type() string { return "file" }

// Bind implements sinks.Sink.
func (s *Sink) Bind(target config.Section) (sinks.Target, error) {
	tc, err := parseTarget(target)
	if err != nil {
		return nil, err
	}
	rel := filepath.Clean(tc.Path)
	path := filepath.Join(s.cfg.Dir, rel)
	s.mu.Lock()
	defer s.mu.Unlock()
	if other, ok := s.bound[path]; ok {
		return nil, target.Errorf("path", "%s is already written by %s", path, other)
	}
	s.bound[path] = target.Path
	return &Target{sink: s, rel: rel, path: path, format: tc.Format, adopt: tc.Adopt, yamlPath: target.Path}, nil
}

// Check verifies that the folder exists, creating it (mode 0700) when its
// parent does, and that a file can be created in it and in the folder of
// every bound target that exists already (the others are created at the
// first write). A symbolic link below the folder is an error.
func (s *Sink) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := openDir(s.cfg.Dir, s.dirPath, true)
	if err != nil {
		return fmt.Errorf("file sink %s: %w", s.cfg.Dir, err)
	}
	defer root.Close()
	dirs := map[string]bool{".": true}
	s.mu.Lock()
	for p := range s.bound {
		rel, err := filepath.Rel(s.cfg.Dir, filepath.Dir(p))
		if err == nil {
			dirs[rel] = true
		}
	}
	s.mu.Unlock()
	for _, rel := range slices.Sorted(maps.Keys(dirs)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		shown := filepath.Join(s.cfg.Dir, rel)
		d, err := openFolder(root, rel, false)
		if errors.Is(err, fs.ErrNotExist) && rel != "." {
			continue // created at the first write
		}
		if err != nil {
			return fmt.Errorf("file sink %s: %w", s.cfg.Dir, err)
		}
		err = writeCheck(d)
		d.Close()
		if err != nil {
			return fmt.Errorf("file sink %s: %w", shown, err)
		}
	}
	return nil
}

func writeCheck(dir *os.Root) error {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := ".rotator-check-" + hex.EncodeToString(rnd[:])
	f, err := dir.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("not writable: %w", bare(err))
	}
	_ = f.Close()
	if err := dir.Remove(name); err != nil {
		return fmt.Errorf("remove check file: %w", bare(err))
	}
	return nil
}

// Target is one file of a file sink.
type Target struct {
	sink   *Sink
	rel    string // below the sink's dir, clean
	path   string // the sink's dir joined with rel, for messages
	format Format
	adopt  bool
	// yamlPath is the target's YAML path ("keys[0].sinks[1]"), for the
	// error that says how to adopt a file rotator did not write.
	yamlPath string
	mu       sync.Mutex // serialises writes to the file
}

// String implements sinks.Target.
func (t *Target) String() string { return "file " + t.path }

// open opens the folder that holds the file, below the sink's dir,
// creating missing folders (mode 0700) when create is set.
func (t *Target) open(create bool) (*os.Root, error) {
	root, err := openDir(t.sink.cfg.Dir, t.sink.dirPath, create)
	if err != nil {
		return nil, fmt.Errorf("folder %s: %w", t.sink.cfg.Dir, err)
	}
	defer root.Close()
	return openFolder(root, filepath.Dir(t.rel), create)
}

// Write implements sinks.Target. It creates missing folders (mode 0700):
// the sink's dir when its parent exists, and any below it.
func (t *Target) Write(ctx context.Context, w sinks.Write) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("write %s: %w", t.path, err)
	}
	b, err := encode(t.format, w.Data)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", t.path, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	dir, err := t.open(true)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", t.path, err)
	}
	defer dir.Close()
	name := filepath.Base(t.rel)
	skip, err := t.before(ctx, dir, name, b)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", t.path, err)
	}
	if skip {
		t.sink.log.Debug("file unchanged, write skipped", zap.String("path", t.path), zap.String("key_id", w.KeyID))
		return "", nil
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("write %s: %w", t.path, err)
	}
	if err := atomicWrite(dir, name, b, t.sink.cfg.Mode); err != nil {
		return "", fmt.Errorf("write %s: %w", t.path, err)
	}
	// The engine logs the write ("sink written"): one line per step.
	return "", nil
}

// before looks at the file a write is about to replace: it must be a
// regular file that rotator wrote (or the target adopts it); skip reports
// that it already holds exactly b with the configured mode.
func (t *Target) before(ctx context.Context, dir *os.Root, name string, b []byte) (skip bool, err error) {
	fi, err := dir.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, bare(err)
	}
	if err := checkRegular(fi); err != nil {
		return false, err
	}
	cur, err := readFile(ctx, dir, name)
	if err != nil {
		return false, err
	}
	if !ownedFile(cur) {
		if !t.adopt {
			return false, sinks.NotOwned("the file", markerDescription(t.format), t.yamlPath)
		}
		t.sink.log.Warn("adopting a file rotator did not write", zap.String("path", t.path))
		return false, nil
	}
	return fi.Mode().Perm() == t.sink.cfg.Mode && bytes.Equal(cur, b), nil
}

// Read implements sinks.Target. It reads a regular file of at most
// MaxFileSize bytes and follows no link.
func (t *Target) Read(ctx context.Context) (sinks.Secret, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", t.path, err)
	}
	dir, err := t.open(false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", t.path, sinks.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.path, err)
	}
	defer dir.Close()
	b, err := readFile(ctx, dir, filepath.Base(t.rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", t.path, sinks.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.path, err)
	}
	data, err := decode(t.format, b)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.path, err)
	}
	return data, nil
}
