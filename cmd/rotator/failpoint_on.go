//go:build failpoints

package main

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// testHooks reads the test-only knobs of the e2e build (go build -tags
// failpoints): ROTATOR_FAILPOINT, ROTATOR_FAILPOINT_SKIP and
// ROTATOR_TEST_RETRY_BASE/MAX. The default build has none of this
// (failpoint_off.go).
func testHooks(logger *zap.Logger) hooks {
	return hooks{
		failpoint: failpointFromEnv(logger),
		retryBase: durationFromEnv(logger, "ROTATOR_TEST_RETRY_BASE"),
		retryMax:  durationFromEnv(logger, "ROTATOR_TEST_RETRY_MAX"),
	}
}

// failpointFromEnv makes the process kill itself (SIGKILL) at the
// lifecycle boundary named by ROTATOR_FAILPOINT, for the crash tests. It is
// inert unless that variable is set. ROTATOR_FAILPOINT_SKIP=N lets the
// first N passes through that boundary go by; ROTATOR_FAILPOINT_ACTION=stop
// makes it stop itself (SIGSTOP) there instead, once.
func failpointFromEnv(logger *zap.Logger) func(string) {
	point := os.Getenv("ROTATOR_FAILPOINT")
	if point == "" {
		return nil
	}
	var n int64
	fmt.Sscanf(os.Getenv("ROTATOR_FAILPOINT_SKIP"), "%d", &n)
	var skip atomic.Int64
	skip.Store(n)
	var stopped atomic.Bool
	logger.Warn("failpoint armed: this process will kill itself; for tests only", zap.String("failpoint", point), zap.Int64("skip", n))
	return func(p string) {
		if p != point || skip.Add(-1) >= 0 {
			return
		}
		_ = logger.Sync()
		if os.Getenv("ROTATOR_FAILPOINT_ACTION") == "stop" {
			// A paused leader (the HA tests): the test SIGCONTs it after
			// its lease has gone to another replica.
			if stopped.CompareAndSwap(false, true) {
				_ = syscall.Kill(os.Getpid(), syscall.SIGSTOP)
			}
			return
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Hour)
	}
}

// durationFromEnv reads a test-only override of the engine's retry backoff
// (default 30s doubling up to 1h), so that the end-to-end fault tests see
// recovery within seconds rather than minutes. It is inert (0, the
// engine's default) unless the variable is set.
func durationFromEnv(logger *zap.Logger, name string) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		logger.Warn("ignoring a test override that is not a positive duration", zap.String("variable", name))
		return 0
	}
	logger.Warn("retry backoff overridden; for tests only", zap.String("variable", name), zap.Duration("value", d))
	return d
}
