package sinktest

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
)

// Target is a sinks.Target made of function fields; a nil field panics.
type Target struct {
	Name      string
	WriteFunc func(ctx context.Context, w sinks.Write) (string, error)
	ReadFunc  func(ctx context.Context) (sinks.Secret, error)
}

var _ sinks.Target = (*Target)(nil)

func (t *Target) String() string { return "fake " + t.Name }
func (t *Target) Write(ctx context.Context, w sinks.Write) (string, error) {
	return t.WriteFunc(ctx, w)
}
func (t *Target) Read(ctx context.Context) (sinks.Secret, error) { return t.ReadFunc(ctx) }

// MemoryTarget is a versioned in-memory target behind a Target; tests
// replace single function fields to inject faults.
type MemoryTarget struct {
	Target
	mu       sync.Mutex
	versions []sinks.Secret
	writes   int
}

// NewMemoryTarget returns a working in-memory target.
func NewMemoryTarget(name string) *MemoryTarget {
	m := &MemoryTarget{}
	m.Target = Target{
		Name: name,
		WriteFunc: func(ctx context.Context, w sinks.Write) (string, error) {
			if err := ctx.Err(); err != nil {
				return "", err
			}
			return m.Put(w.Data), nil
		},
		ReadFunc: func(ctx context.Context) (sinks.Secret, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return m.Current()
		},
	}
	return m
}

// Put stores a new version unless it equals the current one.
func (m *MemoryTarget) Put(s sinks.Secret) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	if n := len(m.versions); n > 0 && equal(m.versions[n-1], s) {
		return strconv.Itoa(n)
	}
	cp := sinks.Secret{}
	for k, v := range s {
		cp[k] = v
	}
	m.versions = append(m.versions, cp)
	return strconv.Itoa(len(m.versions))
}

// Current returns the latest version or sinks.ErrNotFound.
func (m *MemoryTarget) Current() (sinks.Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.versions) == 0 {
		return nil, fmt.Errorf("fake %s: %w", m.Name, sinks.ErrNotFound)
	}
	cp := sinks.Secret{}
	for k, v := range m.versions[len(m.versions)-1] {
		cp[k] = v
	}
	return cp, nil
}

// Previous implements sinks.HistoryReader: earlier versions, newest first.
func (m *MemoryTarget) Previous(ctx context.Context, n int) ([]sinks.Secret, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []sinks.Secret
	for i := len(m.versions) - 2; i >= 0 && len(out) < n; i-- {
		cp := sinks.Secret{}
		for k, v := range m.versions[i] {
			cp[k] = v
		}
		out = append(out, cp)
	}
	return out, nil
}

// Versions returns how many distinct versions were stored.
func (m *MemoryTarget) Versions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.versions)
}

func equal(a, b sinks.Secret) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Sink is a sinks.Sink whose Bind returns targets from BindFunc.
type Sink struct {
	TypeName string
	BindFunc func(target config.Section) (sinks.Target, error)
}

var _ sinks.Sink = (*Sink)(nil)

func (s *Sink) Type() string                                { return s.TypeName }
func (s *Sink) Bind(t config.Section) (sinks.Target, error) { return s.BindFunc(t) }
