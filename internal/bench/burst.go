package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks"
)

// burstResult is one cell of the burst table.
type burstResult struct {
	Provider    string
	Keys        int
	Latency     time.Duration
	Concurrency int
	// Engine is the wall time of a forced RunOnce over every key (grace 0:
	// create, verify, write, read back, promote, revoke, keep-alive).
	Engine time.Duration
	// NoVerify is the same pass with the provider's Verify and Test
	// answered without a round trip (so neither the verify step nor
	// keep-alive reach the server): what the ratio would be without that
	// safety step.
	NoVerify time.Duration
	// Floor is create + one sink write + revoke per key, called directly at
	// the same concurrency against the same server.
	Floor time.Duration
	// EngineRequests and FloorRequests count server requests per key, by
	// operation.
	EngineRequests, FloorRequests map[string]float64
}

func (r burstResult) ratio() float64         { return r.Engine.Seconds() / r.Floor.Seconds() }
func (r burstResult) ratioNoVerify() float64 { return r.NoVerify.Seconds() / r.Floor.Seconds() }

// runBurst measures one cell: a world with n keys that were all rotated
// once (the seed, at zero latency), then, at the given latency, a forced
// RunOnce over all keys, the same with Verify and Test answered locally, and
// the floor.
func runBurst(ctx context.Context, provider string, n int, latency time.Duration, concurrency int, noVerify bool) (burstResult, error) {
	res := burstResult{Provider: provider, Keys: n, Latency: latency, Concurrency: concurrency}
	w, err := newWorld(worldOptions{Provider: provider, Keys: n, MaxConcurrent: concurrency, RateLimit: 1e6})
	if err != nil {
		return res, err
	}
	defer w.close()
	e, err := w.newEngine()
	if err != nil {
		return res, err
	}
	defer e.close()
	if err := runOnce(ctx, e); err != nil {
		return res, fmt.Errorf("seed run: %w", err)
	}
	w.setLatency(latency)

	before := w.requests()
	start := time.Now()
	if err := runOnce(ctx, e); err != nil {
		return res, fmt.Errorf("engine run: %w", err)
	}
	res.Engine = time.Since(start)
	res.EngineRequests = perKey(before, w.requests(), n)

	if noVerify {
		e.close()
		stub, err := w.newEngineWith(func(p providers.Provider) providers.Provider { return localTest{p} })
		if err != nil {
			return res, err
		}
		start = time.Now()
		err = runOnce(ctx, stub)
		res.NoVerify = time.Since(start)
		stub.close()
		if err != nil {
			return res, fmt.Errorf("engine run without verify: %w", err)
		}
		if e, err = w.newEngine(); err != nil {
			return res, err
		}
	}

	before = w.requests()
	res.Floor, err = floor(ctx, e, concurrency)
	if err != nil {
		return res, fmt.Errorf("floor: %w", err)
	}
	res.FloorRequests = perKey(before, w.requests(), n)
	return res, nil
}

// floor makes, for every key, the round trips no rotation can avoid:
// create a key, write it to the key's sink target once, revoke a key. It
// uses the wired providers and targets (same HTTP clients, same files) at
// the same concurrency as the engine.
func floor(ctx context.Context, e *engine, concurrency int) (time.Duration, error) {
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	start := time.Now()
	for _, k := range e.built.Keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := floorOne(ctx, k)
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("key %s: %w", k.Policy.Name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return time.Since(start), errors.Join(errs...)
}

func floorOne(ctx context.Context, k *rotate.Managed) error {
	name := rotate.ProviderKeyName("floor-", k.Policy.Name, time.Now())
	key, err := k.Provider.Create(ctx, name, k.Policy.Params)
	if err != nil {
		return err
	}
	data := sinks.Secret{"key_id": key.ID, "key_name": key.Name, "created_at": key.CreatedAt.UTC().Format(time.RFC3339)}
	for f, v := range key.Credential {
		data[f] = v
	}
	t := k.Targets[0]
	if _, err := t.Target.Write(ctx, sinks.Write{RotationID: name, KeyID: key.ID, KeyName: key.Name, RotatedAt: key.CreatedAt, Data: data}); err != nil {
		return err
	}
	return k.Provider.Revoke(ctx, key.ID)
}

// localTest answers Test and Verify without a round trip: the bench's
// stand-in for an engine without the verify step (and without keep-alive's
// requests).
type localTest struct{ providers.Provider }

var _ providers.Verifier = localTest{}

func (l localTest) Test(_ context.Context, id string, _ providers.Credential) (providers.KeyInfo, error) {
	return providers.KeyInfo{ID: id, Active: true, LastUsedAt: time.Now()}, nil
}

func (l localTest) Verify(context.Context, string, providers.Credential) error { return nil }

func perKey(before, after map[string]int, n int) map[string]float64 {
	out := map[string]float64{}
	for op, v := range after {
		if d := v - before[op]; d > 0 {
			out[op] = float64(d) / float64(n)
		}
	}
	return out
}

func formatOps(m map[string]float64) string {
	var ops []string
	total := 0.0
	for op := range m {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	var parts []string
	for _, op := range ops {
		total += m[op]
		parts = append(parts, fmt.Sprintf("%s %.3g", op, m[op]))
	}
	return fmt.Sprintf("%.3g (%s)", total, strings.Join(parts, ", "))
}

// notes are findings printed at the end of the report (each once).
var notes = map[string]bool{}

// runOnce is a forced RunOnce over every key. A key's failure fails it; a
// failed orphan scan (made after every key is done) is noted instead, since
// it does not change what the pass cost.
func runOnce(ctx context.Context, e *engine) error {
	res, err := e.RunOnce(ctx, rotate.Once{})
	var errs []error
	for _, r := range res {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("key %s: %w", r.Key, r.Err))
		}
	}
	if err != nil && len(errs) == 0 {
		notes[fmt.Sprintf("%d keys: RunOnce's orphan scan failed: %v", len(res), err)] = true
	}
	return errors.Join(errs...)
}
