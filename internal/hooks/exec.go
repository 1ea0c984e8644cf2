package hooks

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/rotate"
)

// MaxOutput bounds what an exec hook's stdout and stderr (each) put in
// the log.
const MaxOutput = 4 << 10

// waitDelay bounds the wait for a hook's output pipes once it has exited
// or been killed (a child it left behind may hold them open).
const waitDelay = 2 * time.Second

// execRun runs the command without a shell, in its own process group,
// which is killed whole at the timeout.
func (r *Runner) execRun(hc config.Hook) func(context.Context, rotate.HookEvent) error {
	return func(ctx context.Context, ev rotate.HookEvent) error {
		ctx, cancel := withTimeout(ctx, r.o.Clock, hc.Timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, hc.Command, hc.Args...)
		cmd.Env = env(ev)
		stdout, stderr := &capped{max: MaxOutput}, &capped{max: MaxOutput}
		cmd.Stdout, cmd.Stderr = stdout, stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return killGroup(cmd) }
		cmd.WaitDelay = waitDelay
		err := cmd.Run()
		if ctx.Err() != nil && cmd.Process != nil {
			_ = killGroup(cmd) // the leader may have exited first, leaving its children
		}
		fields := []zap.Field{zap.String("hook", hc.Name), zap.String("event", ev.Event), zap.String("key", ev.Key)}
		if s := stdout.String(); s != "" {
			fields = append(fields, zap.String("stdout", s))
		}
		if s := stderr.String(); s != "" {
			fields = append(fields, zap.String("stderr", s))
		}
		if len(fields) > 3 {
			r.log.Info("hook output", fields...)
		}
		switch {
		case r.ctx.Err() != nil:
			return errors.New("killed at shutdown, with its process group")
		case timedOut(ctx):
			return fmt.Errorf("killed at its timeout (%s), with its process group", hc.Timeout)
		case err != nil:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return fmt.Errorf("command %s: %s", hc.Command, ee.ProcessState)
			}
			return fmt.Errorf("command %s: %w", hc.Command, err)
		}
		return nil
	}
}

// killGroup kills the hook's whole process group.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// capped keeps the first max bytes written to it and counts the rest.
type capped struct {
	mu      sync.Mutex
	max     int
	b       []byte
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(len(p), c.max-len(c.b))
	c.b = append(c.b, p[:n]...)
	c.dropped += len(p) - n
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.TrimRight(string(c.b), "\n")
	if c.dropped > 0 {
		s += fmt.Sprintf("\n… (%d more bytes)", c.dropped)
	}
	return s
}
