package sinktest_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
)

// memStore is an in-memory versioned store with check-and-set, and a
// switch to break one rule of the contract, to prove the suite notices.
type memStore struct {
	bug string
	log *zap.Logger

	mu      sync.Mutex
	data    sinks.Secret
	version int
	down    bool
	stall   chan struct{}
	race    func() // runs between a Write's read and its write
	foreign bool   // the data carries no ownership marker
}

// memView is the store seen through another binding (Rebind), with its
// own adopt setting.
type memView struct {
	*memStore
	adopt bool
}

func (v *memView) Write(ctx context.Context, w sinks.Write) (string, error) {
	return v.write(ctx, w, v.adopt)
}

func (m *memStore) String() string { return "mem" }

func (m *memStore) Write(ctx context.Context, w sinks.Write) (string, error) {
	return m.write(ctx, w, false)
}

func (m *memStore) write(ctx context.Context, w sinks.Write, adopt bool) (string, error) {
	if m.bug != "ignores-ctx" {
		if err := ctx.Err(); err != nil {
			return "", err
		}
	}
	if err := m.wait(ctx); err != nil {
		return "", err
	}
	m.mu.Lock()
	down, race, seen, cur, foreign := m.down, m.race, m.version, m.data, m.foreign
	m.race = nil
	m.mu.Unlock()
	if down {
		if m.bug == "leaks-in-error" {
			return "", fmt.Errorf("store down while writing %s", w.Data["key"])
		}
		return "", errors.New("store down")
	}
	if m.bug == "leaks-in-log" {
		m.log.Info("writing", zap.String("value", w.Data["secret"]))
	}
	if foreign && !adopt && m.bug != "takes-over" {
		return "", sinks.NotOwned("mem", "ownership marker", "keys[0].sinks[0]")
	}
	if m.bug != "not-idempotent" && maps.Equal(cur, w.Data) {
		return strconv.Itoa(seen), nil
	}
	if race != nil {
		race()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.version != seen && m.bug != "blind-overwrite" {
		return "", fmt.Errorf("version %d is not %d: %w", m.version, seen, sinks.ErrConflict)
	}
	m.version++
	m.data = w.Data
	m.foreign = adopt && m.bug == "adopt-unmarked"
	return strconv.Itoa(m.version), nil
}

func (m *memStore) Read(ctx context.Context) (sinks.Secret, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := m.wait(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, errors.New("store down")
	}
	if m.data == nil {
		if m.bug == "empty-not-notfound" {
			return sinks.Secret{}, nil
		}
		return nil, sinks.ErrNotFound
	}
	return m.data, nil
}

func (m *memStore) wait(ctx context.Context) error {
	m.mu.Lock()
	stall := m.stall
	m.mu.Unlock()
	if stall == nil {
		return nil
	}
	if m.bug == "ignores-ctx" {
		<-stall
		return errors.New("stalled")
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-stall:
		return errors.New("stalled")
	}
}

func harness(bug string) sinktest.Harness {
	return sinktest.Harness{
		New: func(t *testing.T, deps sinks.Deps) sinks.Target {
			return &memStore{bug: bug, log: deps.Logger}
		},
		Concurrent: func(t *testing.T, tg sinks.Target) {
			m := tg.(*memStore)
			m.mu.Lock()
			defer m.mu.Unlock()
			m.race = func() {
				m.mu.Lock()
				defer m.mu.Unlock()
				m.version++
				m.data = sinks.Secret{"key": "someone else"}
			}
		},
		Down: func(t *testing.T, tg sinks.Target) func() {
			m := tg.(*memStore)
			m.mu.Lock()
			m.down = true
			m.mu.Unlock()
			return func() { m.mu.Lock(); m.down = false; m.mu.Unlock() }
		},
		Foreign: func(t *testing.T, tg sinks.Target, data sinks.Secret) {
			m := tg.(*memStore)
			m.mu.Lock()
			defer m.mu.Unlock()
			m.version++
			m.data, m.foreign = data, true
		},
		Rebind: func(t *testing.T, tg sinks.Target, adopt bool, deps sinks.Deps) sinks.Target {
			return &memView{memStore: tg.(*memStore), adopt: adopt}
		},
		Stall: func(t *testing.T, tg sinks.Target) func() {
			m := tg.(*memStore)
			m.mu.Lock()
			m.stall = make(chan struct{})
			m.mu.Unlock()
			return func() { m.mu.Lock(); close(m.stall); m.stall = nil; m.mu.Unlock() }
		},
	}
}

func TestContractPassesForACorrectStore(t *testing.T) {
	sinktest.Run(t, harness(""))
}

// TestBrokenStore runs the suite against the in-memory store with the bug
// named in SINKTEST_BUG planted. TestContractCatchesBrokenStores runs it
// in a child process once per bug; run plainly (no bug) it is the positive
// control: the healthy store passes every case.
func TestBrokenStore(t *testing.T) {
	sinktest.Run(t, harness(os.Getenv("SINKTEST_BUG")))
}

func TestContractCatchesBrokenStores(t *testing.T) {
	cases := map[string]string{
		"leaks-in-error":     "--- FAIL: TestBrokenStore/StoreDown",
		"leaks-in-log":       "--- FAIL: TestBrokenStore/WriteThenRead",
		"not-idempotent":     "--- FAIL: TestBrokenStore/IdempotentRewrite",
		"blind-overwrite":    "--- FAIL: TestBrokenStore/ConcurrentModification",
		"empty-not-notfound": "--- FAIL: TestBrokenStore/ReadFreshIsNotFound",
		"ignores-ctx":        "--- FAIL: TestBrokenStore/CancelledContext",
		"takes-over":         "--- FAIL: TestBrokenStore/ForeignSecretRefused",
		"adopt-unmarked":     "--- FAIL: TestBrokenStore/AdoptTakesOverAndMarks",
	}
	for bug, want := range cases {
		t.Run(bug, func(t *testing.T) {
			name := strings.TrimPrefix(want, "--- FAIL: TestBrokenStore/")
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenStore$/^"+name+"$", "-test.v")
			cmd.Env = append(os.Environ(), "SINKTEST_BUG="+bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the contract passed a store with bug %s:\n%s", bug, out)
			}
			if !strings.Contains(string(out), want) {
				t.Fatalf("want %q in:\n%s", want, out)
			}
			if strings.Contains(string(out), "sk_") && strings.HasPrefix(bug, "leaks") {
				t.Fatalf("the failure message itself shows the secret:\n%s", out)
			}
		})
	}
}
