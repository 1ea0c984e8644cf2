package rotate

import (
	"errors"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/sinks"
)

// runner is the key's runner, nil for a key not in the policy.
func (e *Engine) runner(name string) *keyRunner {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.keys[name]
}

// runners are the runners of every key, in policy order.
func (e *Engine) runners() []*keyRunner {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]*keyRunner, len(e.order))
	for i, n := range e.order {
		out[i] = e.keys[n]
	}
	return out
}

// names are the keys of the policy, in order.
func (e *Engine) names() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return slices.Clone(e.order)
}

// managed is the key's policy, providers and targets now.
func (r *keyRunner) managed() *Managed {
	r.kmu.RLock()
	defer r.kmu.RUnlock()
	return r.k
}

// Policy is a whole policy for Reload.
type Policy struct {
	Keys      []*Managed
	Providers map[string]providers.Provider
	Sinks     map[string]sinks.Sink
}

// ReloadResult says what a reload changed.
type ReloadResult struct {
	Added, Removed, Changed []string
}

// Reload replaces the running policy. A key's evaluation in flight
// finishes under the policy it started with (Reload waits for it). A new
// key is evaluated at once; a key removed from the policy is no longer
// rotated, and its provider keys are neither revoked nor forgotten (its
// state stays; --status lists it as not in the configuration); a key whose
// sink targets grew gets its current credential written to the new targets
// without a rotation (Decide's sync action).
func (e *Engine) Reload(p Policy) (ReloadResult, error) {
	var res ReloadResult
	e.mu.Lock()
	old := e.keys
	keys := make(map[string]*keyRunner, len(p.Keys))
	order := make([]string, 0, len(p.Keys))
	keyLogger := e.o.Logger.WithOptions(zap.AddCallerSkip(2))
	var changed []*keyRunner
	var grown []string
	for _, m := range p.Keys {
		name := m.Policy.Name
		order = append(order, name)
		r := old[name]
		if r == nil {
			keys[name] = &keyRunner{k: m, log: newKeyLog(keyLogger, name)}
			res.Added = append(res.Added, name)
			continue
		}
		keys[name] = r
		changed = append(changed, r)
		if targetsGrew(r.managed(), m) {
			grown = append(grown, name)
		}
		res.Changed = append(res.Changed, name)
	}
	for name := range old {
		if keys[name] == nil {
			res.Removed = append(res.Removed, name)
		}
	}
	e.keys, e.order = keys, order
	e.o.Providers, e.o.Sinks = p.Providers, p.Sinks
	e.mu.Unlock()

	next := map[string]*Managed{}
	for _, m := range p.Keys {
		next[m.Policy.Name] = m
	}
	for _, r := range changed {
		r.mu.Lock() // an evaluation in flight ends first
		r.kmu.Lock()
		r.k = next[r.k.Policy.Name]
		r.kmu.Unlock()
		r.mu.Unlock()
	}
	var errs []error
	for _, name := range grown {
		if err := e.markSync(name); err != nil {
			errs = append(errs, err)
		}
	}
	e.initMetrics(p)
	for _, name := range res.Added {
		e.schedule("key/"+name, 0)
	}
	for name := range p.Providers {
		e.schedule("orphans/"+name, time.Minute)
	}
	for _, name := range res.Changed {
		e.wake(name)
	}
	e.log.Info("policy reloaded", zap.Strings("added", res.Added), zap.Strings("removed", res.Removed),
		zap.Int("kept", len(res.Changed)), zap.Strings("targets_added", grown))
	return res, errors.Join(errs...)
}

// targetsGrew reports whether the new policy has a target the old did not.
func targetsGrew(old, now *Managed) bool {
	have := map[string]bool{}
	for _, t := range old.Targets {
		have[t.Target.String()] = true
	}
	for _, t := range now.Targets {
		if !have[t.Target.String()] {
			return true
		}
	}
	return false
}

// initMetrics creates the label sets of a policy's keys, sinks and
// providers at zero.
func (e *Engine) initMetrics(p Policy) {
	for name := range p.Providers {
		e.m.InitProvider(name)
	}
	for _, m := range p.Keys {
		e.m.InitKey(m.Policy.Name, m.Policy.Provider)
		for _, t := range m.Targets {
			e.m.InitSink(t.Sink)
		}
	}
}

// schedule adds a job to the daemon's scheduler, due after, unless it is
// there already.
func (e *Engine) schedule(job string, after time.Duration) {
	if s := e.sched.Load(); s != nil {
		s.add(job, e.clock.Now().Add(after))
	}
}

// provider is the configured provider of that name, nil when none.
func (e *Engine) provider(name string) providers.Provider {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.o.Providers[name]
}

// providerNames are the configured providers' names, sorted.
func (e *Engine) providerNames() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return slices.Sorted(maps.Keys(e.o.Providers))
}
