package main

import (
	"context"
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
	// Sample every 4 KiB allocated (Go's default is 512 KiB): the profile
	// then shows small per-key structures.
	runtime.MemProfileRate = 4096
	w, err := newWorld(worldOptions{Provider: "smtpd", Keys: n, MaxConcurrent: 4})
	if err != nil {
		return err
	}
	defer w.close()
	if err := seedState(w, n); err != nil {
		return err
	}
	var inuse uint64 // heap spans in use at the last live(): live objects and the free slots between them
	live := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		inuse = m.HeapInuse
		return m.HeapAlloc
	}
	w.cfg = nil // loaded again below, measured
	base := live()
	baseInuse := inuse
	t0 := time.Now()
	cfg, err := config.LoadFile(w.cfgPath)
	loadTook := time.Since(t0)
	if err != nil {
		return err
	}
	w.cfg = cfg
	afterConfig := live()
	idle := make(chan struct{}, 1)
	w.onIdle = func() { signal(idle) }
	t1 := time.Now()
	e, err := w.newEngine()
	buildTook := time.Since(t1)
	if err != nil {
		return err
	}
	defer e.close()
	w.cfg = w.cfg.Settings() // as cmd/rotator does: the policy lives in what wire built
	afterEngine := live()
	// The start-up pass: Serve evaluates every key (nothing is due) and
	// goes idle.
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	t2 := time.Now()
	go func() { served <- e.Serve(ctx) }()
	select {
	case <-idle:
	case err := <-served:
		cancel()
		return fmt.Errorf("serve returned before going idle: %v", err)
	case <-time.After(time.Minute):
		cancel()
		return fmt.Errorf("serve did not go idle within a minute")
	}
	passTook := time.Since(t2)
	afterPass := live()
	idleInuse := inuse
	defer func() { cancel(); <-served }()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return err
	}
	writeHeapTable(out, n, path, []heapStage{
		{"config loaded", loadTook, afterConfig - base},
		{"+ wired, engine built (metrics, loggers, targets)", buildTook, afterEngine - base},
		{"+ Serve's start-up pass over every key, idle", passTook, afterPass - base},
	}, idleInuse-baseInuse)
	return nil
}

// heapStage is the live heap after one stage of start-up, less the base.
type heapStage struct {
	name string
	took time.Duration
	live uint64
}

func writeHeapTable(out io.Writer, n int, path string, stages []heapStage, spans uint64) {
	fmt.Fprintf(out, "## Live heap with %d keys (in process)\n\n| stage | took | live heap | per key |\n|---|---:|---:|---:|\n", n)
	for _, st := range stages {
		fmt.Fprintf(out, "| %s | %s | %s | %d B |\n", st.name, st.took.Round(time.Millisecond), bytesIEC(int64(st.live)), int64(st.live)/int64(n))
	}
	idle := stages[len(stages)-1].live
	fmt.Fprintf(out, "\nheap spans in use when idle: %s (live heap %s, the rest free slots between live objects)\n\nheap profile (idle): %s\n\n",
		bytesIEC(int64(spans)), bytesIEC(int64(idle)), path)
}

// signal sends on c unless a signal is already pending.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
