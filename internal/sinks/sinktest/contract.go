// Package sinktest holds what every sink's tests share: the contract suite
// (Run) that each sink runs against its real store or a faithful test
// server, the leak checks (AssertNoSecret, AssertLogsNoSecret), and the
// engine's fakes (fake.go).
package sinktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/sinks"
)

// Harness adapts one sink to the contract suite. New, Foreign and Rebind
// are required; a nil Concurrent, Down or Stall leaves out the case that
// needs it (not skipped: it does not run), and the sink's documentation
// says why it does not apply. PromoteMakesCurrent runs for staging targets
// (sinks.Promoter) only.
type Harness struct {
	// New returns a fresh target that holds nothing yet, built with deps
	// (the suite's logger captures every line to check it for secrets).
	// Each call must return a target at a new place (a new KV path, a new
	// file), so cases do not see each other's writes.
	New func(t *testing.T, deps sinks.Deps) sinks.Target

	// Concurrent arranges for another writer to change the value stored at
	// target while the target's next Write is in flight: after the sink has
	// read the store's current state and before it writes (for Vault KV v2,
	// between the read of the current version and the check-and-set write).
	// That Write must then fail with an error wrapping sinks.ErrConflict and
	// leave the other writer's value in place. nil: the store cannot detect
	// concurrent modification.
	Concurrent func(t *testing.T, target sinks.Target)

	// Down makes the store fail for target (unreachable, or refusing
	// writes) until restore is called. nil: the store cannot be made to
	// fail from a test.
	Down func(t *testing.T, target sinks.Target) (restore func())

	// Stall makes the store accept requests for target and never answer
	// until restore is called, to prove a cancelled context is honoured
	// mid-request. nil: not applicable (local stores).
	Stall func(t *testing.T, target sinks.Target) (restore func())

	// Foreign puts data at target's place as another team's tool would:
	// a value without rotator's ownership marker (see sinks.ErrNotOwned).
	// data has the fields of the suite's own writes, with other values.
	// Required, with Rebind, for the ownership cases.
	Foreign func(t *testing.T, target sinks.Target, data sinks.Secret)

	// Rebind returns a new target at target's place from a new sink (as
	// after a restart), bound with `adopt: adopt`, built with deps.
	Rebind func(t *testing.T, target sinks.Target, adopt bool, deps sinks.Deps) sinks.Target

	// Secrets are other values that must never appear in an error or a log
	// line (a Vault token, an AppRole secret_id).
	Secrets []string
}

// Run runs the contract suite against the sink behind h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Foreign == nil || h.Rebind == nil {
		t.Fatal("sinktest: Harness.New, Foreign and Rebind are required")
	}
	_, staging := newContractCase(t, h).target.(sinks.Promoter)
	cases := []struct {
		name    string
		run     func(t *testing.T, c *contractCase)
		applies bool
	}{
		{"ReadFreshIsNotFound", caseReadFresh, true},
		{"WriteThenRead", caseWriteRead, true},
		{"IdempotentRewrite", caseIdempotent, true},
		{"ConcurrentIdenticalWrites", caseConcurrentIdentical, true},
		{"NewRotationReplaces", caseNewRotation, true},
		{"PromoteMakesCurrent", casePromote, staging},
		{"ConcurrentModification", caseConflict, h.Concurrent != nil},
		{"CancelledContext", caseCancelled, true},
		{"CancelledMidRequest", caseStall, h.Stall != nil},
		{"StoreDown", caseDown, h.Down != nil},
		{"ForeignSecretRefused", caseForeign, true},
		{"AdoptTakesOverAndMarks", caseAdopt, true},
		{"OwnSecretAccepted", caseOwn, true},
	}
	for _, tc := range cases {
		if !tc.applies {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			c := newContractCase(t, h)
			tc.run(t, c)
			c.checkLogs(t)
		})
	}
}

// contractCase is one case's target, logs and the secrets it generated.
type contractCase struct {
	h       Harness
	deps    sinks.Deps
	target  sinks.Target
	logs    *observer.ObservedLogs
	mu      sync.Mutex
	secrets []string
}

func newContractCase(t *testing.T, h Harness) *contractCase {
	core, logs := observer.New(zapcore.DebugLevel)
	c := &contractCase{h: h, logs: logs, secrets: append([]string(nil), h.Secrets...)}
	c.deps = sinks.Deps{
		Name:      "contract",
		Logger:    zap.New(core),
		Clock:     clockwork.NewRealClock(),
		UserAgent: "rotator/contract-test",
	}
	c.target = h.New(t, c.deps)
	if c.target == nil {
		t.Fatal("sinktest: Harness.New returned nil")
	}
	return c
}

// write builds a Write with fresh random credential values, as the engine
// would: the provider's fields plus key_id, key_name and created_at.
func (c *contractCase) write(rotation string) sinks.Write {
	key, secret := "sk_"+randHex(16), "s3cr3t='\"$HOME\n"+randHex(16)+" ü"
	c.mu.Lock()
	c.secrets = append(c.secrets, key, secret)
	c.mu.Unlock()
	at := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	id := "key-" + randHex(4)
	name := "rotator-contract-" + at.Format("20060102T150405Z") + "-" + randHex(3)
	return sinks.Write{
		RotationID: rotation + "-" + randHex(8),
		KeyID:      id,
		KeyName:    name,
		RotatedAt:  at,
		Data: sinks.Secret{
			"key":        key,
			"secret":     secret,
			"key_id":     id,
			"key_name":   name,
			"created_at": at.Format(time.RFC3339),
		},
	}
}

func (c *contractCase) checkErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		AssertNoSecret(t, err.Error(), c.secrets...)
		AssertNoSecret(t, fmt.Sprintf("%+v %#v", err, err), c.secrets...)
	}
}

func (c *contractCase) checkLogs(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	AssertLogsNoSecret(t, c.logs, c.secrets...)
}

// writeCurrent writes w and, for staging stores, promotes it.
func (c *contractCase) writeCurrent(t *testing.T, ctx context.Context, w sinks.Write) string {
	t.Helper()
	v, err := c.target.Write(ctx, w)
	c.checkErr(t, err)
	if err != nil {
		t.Fatalf("Write(%s): %v", c.target, err)
	}
	if p, ok := c.target.(sinks.Promoter); ok {
		err := p.Promote(ctx, w)
		c.checkErr(t, err)
		if err != nil {
			t.Fatalf("Promote(%s): %v", c.target, err)
		}
	}
	return v
}

func (c *contractCase) mustRead(t *testing.T, ctx context.Context) sinks.Secret {
	t.Helper()
	got, err := c.target.Read(ctx)
	c.checkErr(t, err)
	if err != nil {
		t.Fatalf("Read(%s): %v", c.target, err)
	}
	return got
}

func caseReadFresh(t *testing.T, c *contractCase) {
	_, err := c.target.Read(t.Context())
	c.checkErr(t, err)
	if !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("Read of a fresh target: got %v, want an error wrapping sinks.ErrNotFound", err)
	}
	if s := c.target.String(); s == "" {
		t.Error("String() is empty")
	}
}

func caseWriteRead(t *testing.T, c *contractCase) {
	w := c.write("r1")
	c.writeCurrent(t, t.Context(), w)
	requireSame(t, c.mustRead(t, t.Context()), w.Data)
	AssertNoSecret(t, c.target.String(), c.secrets...)
}

func caseIdempotent(t *testing.T, c *contractCase) {
	ctx := t.Context()
	w := c.write("r1")
	v1 := c.writeCurrent(t, ctx, w)
	v2 := c.writeCurrent(t, ctx, w)
	if v1 != v2 {
		t.Errorf("rewriting the same Write gave version %q, then %q: want one logical value", v1, v2)
	}
	requireSame(t, c.mustRead(t, ctx), w.Data)
}

func caseConcurrentIdentical(t *testing.T, c *contractCase) {
	ctx := t.Context()
	w := c.write("r1")
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.target.Write(ctx, w)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		c.checkErr(t, err)
		if err != nil {
			t.Errorf("concurrent identical Write #%d: %v", i, err)
		}
	}
	c.writeCurrent(t, ctx, w)
	requireSame(t, c.mustRead(t, ctx), w.Data)
}

func caseNewRotation(t *testing.T, c *contractCase) {
	ctx := t.Context()
	w1, w2 := c.write("r1"), c.write("r2")
	v1 := c.writeCurrent(t, ctx, w1)
	v2 := c.writeCurrent(t, ctx, w2)
	if v1 != "" && v1 == v2 {
		t.Errorf("a new rotation's write kept version %q", v1)
	}
	requireSame(t, c.mustRead(t, ctx), w2.Data)
}

func casePromote(t *testing.T, c *contractCase) {
	p := c.target.(sinks.Promoter)
	ctx := t.Context()
	w1, w2 := c.write("r1"), c.write("r2")
	c.writeCurrent(t, ctx, w1)
	if _, err := c.target.Write(ctx, w2); err != nil {
		c.checkErr(t, err)
		t.Fatalf("Write: %v", err)
	}
	requireSame(t, c.mustRead(t, ctx), w1.Data)
	if pr, ok := c.target.(sinks.PendingReader); ok {
		got, err := pr.ReadPending(ctx, w2.RotationID)
		c.checkErr(t, err)
		if err != nil {
			t.Fatalf("ReadPending: %v", err)
		}
		requireSame(t, got, w2.Data)
	}
	for range 2 { // Promote is idempotent
		err := p.Promote(ctx, w2)
		c.checkErr(t, err)
		if err != nil {
			t.Fatalf("Promote: %v", err)
		}
	}
	requireSame(t, c.mustRead(t, ctx), w2.Data)
}

func caseConflict(t *testing.T, c *contractCase) {
	ctx := t.Context()
	w1, w2 := c.write("r1"), c.write("r2")
	c.writeCurrent(t, ctx, w1)
	c.h.Concurrent(t, c.target)
	_, err := c.target.Write(ctx, w2)
	c.checkErr(t, err)
	if !errors.Is(err, sinks.ErrConflict) {
		t.Fatalf("Write after a concurrent edit: got %v, want an error wrapping sinks.ErrConflict", err)
	}
	if got := c.mustRead(t, ctx); maps.Equal(got, w2.Data) {
		t.Fatal("the conflicting Write overwrote the other writer's value")
	}
	// The engine retries later: the next attempt succeeds.
	c.writeCurrent(t, ctx, w2)
	requireSame(t, c.mustRead(t, ctx), w2.Data)
}

func caseCancelled(t *testing.T, c *contractCase) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	w := c.write("r1")
	returnsPromptly(t, "Write", func() {
		_, err := c.target.Write(ctx, w)
		c.checkErr(t, err)
		requireCanceled(t, "Write", err)
	})
	returnsPromptly(t, "Read", func() {
		_, err := c.target.Read(ctx)
		c.checkErr(t, err)
		requireCanceled(t, "Read", err)
	})
	if p, ok := c.target.(sinks.Promoter); ok {
		returnsPromptly(t, "Promote", func() {
			err := p.Promote(ctx, w)
			c.checkErr(t, err)
			requireCanceled(t, "Promote", err)
		})
	}
}

func caseStall(t *testing.T, c *contractCase) {
	restore := c.h.Stall(t, c.target)
	defer restore()
	w := c.write("r1")
	for _, op := range []string{"Write", "Read"} {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			var err error
			if op == "Write" {
				_, err = c.target.Write(ctx, w)
			} else {
				_, err = c.target.Read(ctx)
			}
			done <- err
		}()
		select {
		case err := <-done:
			t.Fatalf("%s returned against a stalled store before being cancelled: %v", op, err)
		case <-time.After(50 * time.Millisecond):
			// Not a timing assertion: only gives the request time to be in flight.
		}
		cancel()
		select {
		case err := <-done:
			c.checkErr(t, err)
			requireCanceled(t, op, err)
		case <-time.After(hangGuard):
			t.Fatalf("%s did not return within %s of its context being cancelled", op, hangGuard)
		}
	}
}

func caseDown(t *testing.T, c *contractCase) {
	ctx := t.Context()
	w1, w2 := c.write("r1"), c.write("r2")
	c.writeCurrent(t, ctx, w1)
	restore := c.h.Down(t, c.target)
	_, err := c.target.Write(ctx, w2)
	c.checkErr(t, err)
	if err == nil {
		t.Fatal("Write to a store that is down succeeded")
	}
	if errors.Is(err, sinks.ErrConflict) || errors.Is(err, sinks.ErrNotFound) {
		t.Errorf("a store that is down reported %v", err)
	}
	if _, err := c.target.Read(ctx); err != nil {
		c.checkErr(t, err)
	}
	restore()
	// The old value is still what consumers read.
	requireSame(t, c.mustRead(t, ctx), w1.Data)
}

// hangGuard bounds how long a call may take to notice a cancelled context;
// it only catches hangs, no case depends on speed.
const hangGuard = 30 * time.Second

func returnsPromptly(t *testing.T, op string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatalf("%s with a cancelled context did not return within %s", op, hangGuard)
	}
}

func requireCanceled(t *testing.T, op string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s with a cancelled context succeeded", op)
	} else if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%s with a cancelled context: got %v, want an error wrapping context.Canceled", op, err)
	}
}

func requireSame(t *testing.T, got, want sinks.Secret) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Fatalf("read back fields %s, want %s (values differ or are missing)", fieldList(got), fieldList(want))
	}
}

// fieldList names the fields without their values.
func fieldList(s sinks.Secret) string { return fmt.Sprint(sortedKeys(s)) }

func sortedKeys(s sinks.Secret) []string { return slices.Sorted(maps.Keys(s)) }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
