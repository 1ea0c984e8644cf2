package rotate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/sinks"
)

// Check runs the start-up checks of every sink that has them (Vault: token
// and capabilities on every path), so that a bad path fails now rather than
// at rotation time.
func (e *Engine) Check(ctx context.Context) error {
	var errs []error
	e.mu.RLock()
	all := maps.Clone(e.o.Sinks)
	e.mu.RUnlock()
	for name, s := range all {
		c, ok := s.(sinks.Checker)
		if !ok {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := c.Check(cctx); err != nil {
			errs = append(errs, fmt.Errorf("sink %s: %w", name, err))
		}
		cancel()
	}
	return errors.Join(errs...)
}

// Serve runs the daemon loop until ctx is cancelled: every key is
// evaluated at once (a run missed while the daemon was down happens now)
// and then whenever it next needs attention; every provider is scanned for
// orphans periodically. On cancellation no new step starts; work in flight
// may finish within ShutdownTimeout, after which it is cancelled (every
// step is recorded, so it resumes at the next start). Serve returns nil
// after a clean drain.
func (e *Engine) Serve(ctx context.Context) error {
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	sched := newScheduler(e.clock)
	sched.onIdle, sched.idleAfter = e.o.OnIdle, IdleAfter
	e.sched.Store(sched)
	defer e.sched.Store(nil)
	e.renotifyAwaiting()
	now := e.clock.Now()
	for _, name := range e.names() {
		sched.at("key/"+name, now)
	}
	for _, name := range e.providerNames() {
		sched.at("orphans/"+name, now.Add(time.Minute))
	}
	// A job never overlaps itself: the scheduler hands it out once and has
	// it back only when it returned (done). cron's Recover turns a panic in
	// a job into an error log; the job then runs again after RetryBase.
	chain := cron.NewChain(cron.Recover(cronLogger{e.log}))
	sem := make(chan struct{}, e.o.MaxConcurrent)
	var wg sync.WaitGroup
	e.log.Info("daemon started", zap.Int("keys", len(e.names())), zap.Int("max_concurrent", e.o.MaxConcurrent))
	for {
		job, ok := sched.next(ctx)
		if !ok {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			sched.at(job, e.clock.Now())
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			next := e.clock.Now().Add(e.o.RetryBase) // kept if the job panics
			chain.Then(cron.FuncJob(func() { next = e.runJob(jobCtx, job) })).Run()
			switch {
			case ctx.Err() != nil:
			case next.IsZero(): // a key a reload removed
				sched.drop(job)
			default:
				sched.done(job, next)
			}
		}()
	}

	e.draining.Store(true)
	e.log.Info("shutting down: no new step starts; waiting for work in flight", zap.Duration("timeout", e.o.ShutdownTimeout))
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-e.clock.After(e.o.ShutdownTimeout):
		e.log.Warn("shutdown timeout reached: cancelling work in flight; it resumes at the next start")
		cancelJobs()
		<-done
	}
	e.log.Info("daemon stopped")
	return nil
}

// runJob runs one scheduled job and returns when it next needs to run.
func (e *Engine) runJob(ctx context.Context, job string) time.Time {
	kind, name, _ := cut(job)
	switch kind {
	case "orphans":
		if e.provider(name) == nil {
			return time.Time{} // a provider a reload removed
		}
		if _, err := e.ScanOrphans(ctx, name); err != nil {
			e.log.Error("orphan scan failed", zap.String("provider", name), zap.Error(err))
			return e.clock.Now().Add(e.backoff(1))
		}
		return e.clock.Now().Add(e.o.OrphanScanInterval)
	default:
		if e.runner(name) == nil {
			return time.Time{}
		}
		out, err := e.Evaluate(ctx, name, Mode{})
		e.logEvaluation(name, out, err)
		return out.Next
	}
}

// logEvaluation logs the failure of a scheduled evaluation once: a failed
// action (rotation, revocation, keep-alive, usage check) has logged its
// own line, so the joined error is a debug line; a failure before any
// action (reading the key's state) has not, so it is an error.
func (e *Engine) logEvaluation(name string, out Outcome, err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	lvl := zap.ErrorLevel
	if len(out.Actions) > 0 {
		lvl = zap.DebugLevel
	}
	e.log.Log(lvl, "evaluation finished with errors", zap.String("key", name), zap.Error(err), zap.Time("next", out.Next))
}

func cut(job string) (kind, name string, ok bool) {
	for i := 0; i < len(job); i++ {
		if job[i] == '/' {
			return job[:i], job[i+1:], true
		}
	}
	return "", job, false
}

// Once selects what RunOnce does.
type Once struct {
	// Keys to rotate (all when empty). Other keys still get due
	// revocations and keep-alive.
	Keys []string
	// DueOnly rotates the selected keys only when their policy calls for it
	// (for systemd timers and CronJobs), instead of regardless of schedule.
	DueOnly bool
}

// KeyResult is one key's part of a RunOnce.
type KeyResult struct {
	Key string
	Outcome
	Err error
}

// RunOnce makes one pass now over every key: finish rotations in flight,
// revoke what is due, rotate the selected keys, keep live keys in use; then
// scan every provider for orphans. The previous keys get their revocation
// deadline (now + grace); with grace 0 they are revoked in the same pass.
func (e *Engine) RunOnce(ctx context.Context, o Once) ([]KeyResult, error) {
	modes, err := e.onceModes(o)
	if err != nil {
		return nil, err
	}
	names := e.names()
	results := make([]KeyResult, len(names))
	sem := make(chan struct{}, e.o.MaxConcurrent)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out, err := e.Evaluate(ctx, name, modes[i])
			results[i] = KeyResult{Key: name, Outcome: out, Err: err}
		}()
	}
	wg.Wait()
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("key %s: %w", r.Key, r.Err))
		}
	}
	for _, name := range e.providerNames() {
		if _, err := e.ScanOrphans(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	return results, errors.Join(errs...)
}

// cronLogger adapts zap to cron.Logger for cron's job wrappers.
type cronLogger struct{ l *zap.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Sugar().Infow(msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Sugar().Errorw(msg, append(kv, "error", err)...)
}
