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
	idle := make(chan struct{}, 1)
	w.onIdle = func() {
		select {
		case idle <- struct{}{}:
		default:
		}
	}
	t1 := time.Now()
	e, err := w.newEngine()
	buildTook := time.Since(t1)
	if err != nil {
		return err
	}
	defer e.close()
	w.cfg.Keys = nil // as cmd/rotator does: the engine holds each key's policy
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
	defer func() { cancel(); <-served }()
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
	fmt.Fprintf(out, "| + wired, engine built (metrics, loggers, targets) | %s | %s | %d B |\n",
		buildTook.Round(time.Millisecond), bytesIEC(int64(afterEngine-base)), int64(afterEngine-base)/int64(n))
	fmt.Fprintf(out, "| + Serve's start-up pass over every key, idle | %s | %s | %d B |\n\nheap profile (idle): %s\n\n",
		passTook.Round(time.Millisecond), bytesIEC(int64(afterPass-base)), int64(afterPass-base)/int64(n), path)
	return nil
}
