package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
)

// runHeap wires a daemon of n keys in process, as cmd/rotator does up to
// Serve, and writes a heap profile of what stays live to path (go tool
// pprof -sample_index=inuse_space), with the live heap at each stage.
func runHeap(out io.Writer, n int, path string) error {
	w, err := newWorld(worldOptions{Provider: "smtpd", Keys: n, MaxConcurrent: 4})
	if err != nil {
		return err
	}
	defer w.close()
	if err := seedState(w, n); err != nil {
		return err
	}
	live := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	w.cfg = nil // loaded again below, measured
	base := live()
	t0 := time.Now()
	cfg, err := config.LoadFile(w.cfgPath)
	loadTook := time.Since(t0)
	if err != nil {
		return err
	}
	w.cfg = cfg
	afterConfig := live()
	t1 := time.Now()
	e, err := w.newEngine()
	buildTook := time.Since(t1)
	if err != nil {
		return err
	}
	defer e.close()
	afterEngine := live()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return err
	}
	fmt.Fprintf(out, "## Live heap with %d keys (in process)\n\n| stage | took | live heap | per key |\n|---|---:|---:|---:|\n", n)
	fmt.Fprintf(out, "| config loaded | %s | %s | %d B |\n", loadTook.Round(time.Millisecond), bytesIEC(int64(afterConfig-base)), int64(afterConfig-base)/int64(n))
	fmt.Fprintf(out, "| + wired, engine built (metrics, loggers, targets) | %s | %s | %d B |\n\nheap profile: %s\n\n",
		buildTook.Round(time.Millisecond), bytesIEC(int64(afterEngine-base)), int64(afterEngine-base)/int64(n), path)
	return nil
}
