package main

import (
	"runtime/debug"

	"go.uber.org/zap"
)

// pageReleaser is a store that can give back the pages of its file that
// reads have mapped (state.Store, the bbolt file).
type pageReleaser interface{ ReleasePages() error }

// onIdle is what the daemon gives back to the operating system each time
// the engine goes idle (docs/performance.md, "Where the idle memory
// goes"):
//   - the heap's free pages, at once: Go's background scavenger returns
//     them a little at a time, waking the idle daemon about ten times a
//     second for minutes after start-up or a burst;
//   - the state file's pages that the evaluations mapped (the start-up pass
//     reads every record), when the store is the bbolt file.
func onIdle(store engineStore, logger *zap.Logger) func() {
	r, ok := store.(pageReleaser)
	if !ok {
		return debug.FreeOSMemory
	}
	return func() {
		debug.FreeOSMemory()
		if err := r.ReleasePages(); err != nil {
			logger.Warn("could not release the state file's mapped pages", zap.Error(err))
		}
	}
}
