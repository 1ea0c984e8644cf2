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
//   - Two targets of one sink may not name the same file.
//   - Errors and log lines name files and fields, never values.
package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
)

// Sink is a configured file sink.
type Sink struct {
	cfg Config
	log *zap.Logger

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
	return &Sink{cfg: cfg, log: log, bound: map[string]string{}}, nil
}

// Type implements sinks.Sink.
func (s *Sink) Type() string { return "file" }

// Bind implements sinks.Sink.
func (s *Sink) Bind(target config.Section) (sinks.Target, error) {
	tc, err := parseTarget(target)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(s.cfg.Dir, tc.Path)
	s.mu.Lock()
	defer s.mu.Unlock()
	if other, ok := s.bound[path]; ok {
		return nil, target.Errorf("path", "%s is already written by %s", path, other)
	}
	s.bound[path] = target.Path
	return &Target{path: path, format: tc.Format, mode: s.cfg.Mode, log: s.log}, nil
}

// Check verifies that the folder exists and that a file can be created in
// it, and in the folder of every bound target.
func (s *Sink) Check(ctx context.Context) error {
	dirs := map[string]bool{s.cfg.Dir: true}
	s.mu.Lock()
	for p := range s.bound {
		dirs[filepath.Dir(p)] = true
	}
	s.mu.Unlock()
	for dir := range dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if dir != s.cfg.Dir {
			if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
				continue // created at the first write
			}
		}
		if err := writeCheck(dir); err != nil {
			return fmt.Errorf("file sink %s: %w", dir, err)
		}
	}
	return nil
}

func writeCheck(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("stat: %w", bare(err))
	}
	if !fi.IsDir() {
		return errors.New("not a folder")
	}
	f, err := os.CreateTemp(dir, ".rotator-check-*")
	if err != nil {
		return fmt.Errorf("not writable: %w", bare(err))
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("remove check file: %w", err)
	}
	return nil
}

// Target is one file of a file sink.
type Target struct {
	path   string
	format Format
	mode   fs.FileMode
	log    *zap.Logger
	mu     sync.Mutex // serialises writes to the file
}

// String implements sinks.Target.
func (t *Target) String() string { return "file " + t.path }

// Write implements sinks.Target. It creates missing folders under the
// sink's dir (mode 0700).
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
	if unchanged(t.path, b, t.mode) {
		t.log.Debug("file unchanged, write skipped", zap.String("path", t.path), zap.String("key_id", w.KeyID))
		return "", nil
	}
	if err := os.MkdirAll(filepath.Dir(t.path), 0o700); err != nil {
		return "", fmt.Errorf("write %s: create folder: %w", t.path, bare(err))
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("write %s: %w", t.path, err)
	}
	if err := atomicWrite(t.path, b, t.mode); err != nil {
		return "", fmt.Errorf("write %s: %w", t.path, err)
	}
	t.log.Info("file written", zap.String("path", t.path), zap.String("key_id", w.KeyID), zap.String("format", string(t.format)))
	return "", nil
}

// Read implements sinks.Target.
func (t *Target) Read(ctx context.Context) (sinks.Secret, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", t.path, err)
	}
	b, err := os.ReadFile(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", t.path, sinks.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.path, bare(err))
	}
	data, err := decode(t.format, b)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.path, err)
	}
	return data, nil
}
