package main

import "time"

// hooks are the engine's test-only knobs. They are zero (the engine's
// defaults, no failpoint) unless the binary is built with -tags failpoints.
type hooks struct {
	// failpoint, when set, is called at every side-effect boundary.
	failpoint func(string)
	// retryBase and retryMax override the retry backoff (0: default).
	retryBase, retryMax time.Duration
}
