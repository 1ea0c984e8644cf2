package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/control"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/wire"
)

// TestReloadGivesTheDaemonTheNewHooks: a reload that adds a hook to a key
// makes the running daemon run it on that key's next event (before, the
// engine took the new policy and the hooks runner kept the old, empty one:
// the hook never ran).
func TestReloadGivesTheDaemonTheNewHooks(t *testing.T) {
	e := newEnv(t, "1h")
	errb, stop := runDaemon(t, e)
	defer func() {
		if code := stop(); code != exitOK {
			t.Errorf("daemon exit %d\n%s", code, errb.String())
		}
	}()
	waitStatus(t, e, "mail")

	mark := filepath.Join(e.dir, "hook-ran")
	script := filepath.Join(e.dir, "note.sh")
	must(t, os.WriteFile(script, []byte("#!/bin/sh\necho \"$ROTATOR_EVENT\" >> "+mark+"\n"), 0o700))
	b, err := os.ReadFile(e.config)
	must(t, err)
	policy := strings.Replace(string(b), "providers:\n",
		"hooks:\n  note: {type: exec, command: ./note.sh, timeout: 5s}\nproviders:\n", 1)
	policy = strings.Replace(policy, "    params: {role: send_only}\n",
		"    params: {role: send_only}\n    hooks: [{hook: note, on: [converged]}]\n", 1)
	must(t, os.WriteFile(e.config, []byte(policy), 0o600))
	if code, o, errs := runCLI(t, "reload", "--config", e.config); code != exitOK {
		t.Fatalf("reload: %d %s%s", code, o, errs)
	}
	if code, o, errs := runCLI(t, "rotate", "mail", "--config", e.config); code != exitOK {
		t.Fatalf("rotate: %d %s%s", code, o, errs)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got, err := os.ReadFile(mark); err == nil && len(got) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hook added by the reload never ran\n%s", errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runDaemon runs `rotator run` on e's policy in the background (JSON
// logs into the returned buffer); stop cancels it and returns its exit
// code.
func runDaemon(t *testing.T, e *env) (logs *bytes.Buffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	logs = &bytes.Buffer{}
	c := newCLI(&out, logs)
	c.ctx = ctx
	done := make(chan int, 1)
	go func() { done <- c.run([]string{"run", "--config", e.config, "--log-format", "json"}) }()
	return logs, func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("the daemon did not stop")
			return -1
		}
	}
}

// closingSink counts Close calls (a Vault sink stops its token renewer).
type closingSink struct {
	sinks.Sink
	closed int
}

func (s *closingSink) Close() error { s.closed++; return nil }

// TestReloadClosesTheReplacedSinks: each reload closes the sinks of the
// policy it replaced (a Vault token renewer per reload ran on before), and
// stop closes the last reload's.
func TestReloadClosesTheReplacedSinks(t *testing.T) {
	parts := func() (*wire.Built, *closingSink) {
		s := &closingSink{}
		return &wire.Built{Sinks: map[string]sinks.Sink{"vault": s}}, s
	}
	b0, s0 := parts()
	b1, s1 := parts()
	b2, s2 := parts()
	p := daemonParts{built: b0, logger: zap.NewNop()}
	r := &controlRunner{server: control.NewServer(nil)}
	r.replaced(b1, p)
	if s0.closed != 1 || s1.closed != 0 {
		t.Fatalf("first reload: start-up sinks closed %d times, new %d; want 1, 0", s0.closed, s1.closed)
	}
	r.replaced(b2, p)
	if s1.closed != 1 || s2.closed != 0 {
		t.Fatalf("second reload: replaced sinks closed %d times, new %d; want 1, 0", s1.closed, s2.closed)
	}
	r.stop(zap.NewNop())
	if s2.closed != 1 || s0.closed != 1 {
		t.Fatalf("stop: last policy's sinks closed %d times (want 1), start-up's %d (want 1: the CLI closes them)", s2.closed, s0.closed)
	}
}
