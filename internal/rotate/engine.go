// Package rotate is rotator's engine: for every managed key it creates a
// fresh key at the provider, writes it to every sink, verifies, promotes
// it, revokes the previous key after its grace period, keeps live keys in
// use, and exports what it does as metrics.
//
// Every step is recorded in the state store before its side effect, so a
// crash at any point is resumed or compensated at the next evaluation:
//
//	intent   the provider-side name is recorded; after a crash the key is
//	         looked up by that name and revoked (its secret is lost)
//	created  the key id is recorded; the secret stays in memory, and after a
//	         crash it is read back from a sink that holds it, or, when no
//	         sink does, the key is revoked and the rotation starts over
//	written  every sink holds the new key; verification and promotion follow
//	promote  in one state write the new key becomes current and the old one
//	         gets its revocation deadline (now + grace)
//	revoke   when due, after checking that no sink still holds the old key
//
// Metrics (namespace rotator):
//
//	rotations_total{key,provider,result}             counter
//	rotation_duration_seconds{key}                   histogram
//	last_rotation_success_timestamp_seconds{key}     gauge
//	next_rotation_timestamp_seconds{key}             gauge
//	key_created_timestamp_seconds{key}               gauge
//	key_last_used_timestamp_seconds{key}             gauge
//	key_inactivity_deadline_timestamp_seconds{key}   gauge
//	keepalives_total{key,result}                     counter
//	last_keepalive_success_timestamp_seconds{key}    gauge
//	revocations_total{key,result}                    counter
//	pending_revocations{key}                         gauge
//	revocation_deadline_timestamp_seconds{key}       gauge
//	superseded_key_last_used_timestamp_seconds{key}  gauge
//	key_consecutive_failures{key}                    gauge
//	key_paused{key}                                  gauge
//	emergency_rotations_total{key,trigger}           counter
//	sink_writes_total{sink,result}                   counter
//	provider_requests_total{provider,code}           counter
//	provider_request_duration_seconds{provider}      histogram
//	orphaned_keys{provider}                          gauge
//	config_last_reload_successful                    gauge
//	config_last_reload_success_timestamp_seconds     gauge
//	leader                                           gauge
//	build_info{version,revision,...}                 gauge (registered by main)
//
// revocations_total's result is success, failure or max_grace (revoked
// because max_grace was reached); emergency_rotations_total's trigger is
// provider (the provider no longer accepts the current key) or operator
// (rotate --revoke-old-now). The per-key families are listed in
// keyFamilies (keymetrics.go).
package rotate

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/backoff"
	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/state"
)

// Managed is one configured key with its provider and bound sink targets.
type Managed struct {
	Policy config.Key
	// Provider is the key's provider; Providers (in Options) resolves the
	// provider of older keys, which may differ after a config change.
	Provider providers.Provider
	Targets  []BoundTarget
}

// BoundTarget is one sink target of a key.
type BoundTarget struct {
	// Sink is the sink's configured name (the sink metric label).
	Sink   string
	Target sinks.Target
	// Fields renames secret fields for this target.
	Fields map[string]string
	// Spec is the target's options as JSON (its YAML section without sink
	// and fields: {"path":"mail.env"}), recorded in the key's state so
	// that the target can be bound again to retire the key once it has
	// left the policy ("" when the caller does not set it).
	Spec string
}

// Store is where the engine records each key's state (state.Store: bbolt).
// Get returns a record with only the name for a key never seen; Put is
// durable when it returns, and a failed Put stops the step it records.
type Store interface {
	Get(name string) (state.Key, error)
	Put(k state.Key) error
}

// Options are the engine's dependencies, all injected.
type Options struct {
	Keys []*Managed
	// Providers maps configured provider names to providers.
	Providers map[string]providers.Provider
	// Sinks maps configured sink names to sinks (for start-up checks and
	// Close).
	Sinks         map[string]sinks.Sink
	Store         Store
	Logger        *zap.Logger
	Metrics       *Metrics
	Clock         clockwork.Clock
	MaxConcurrent int
	// ShutdownTimeout bounds the drain after ctx is cancelled.
	ShutdownTimeout time.Duration
	// OrphanScanInterval is how often each provider is listed for orphans.
	OrphanScanInterval time.Duration
	// RetryBase and RetryMax bound the exponential backoff of failed
	// rotations, revocations and keep-alives (defaults 30s and 1h).
	RetryBase, RetryMax time.Duration
	// Failpoint, when set, is called at every side-effect boundary with the
	// boundary's name (see Failpoints). Crash tests make it kill the
	// process; it is nil in production.
	Failpoint func(point string)
	// VerifyAttempts is how often a new credential is tested at the provider
	// before the rotation gives up on it (default 3): some providers need a
	// moment before a new key works.
	VerifyAttempts int
	// Events keeps the audit trail; nil keeps none (the daemon passes the
	// state store).
	Events EventLog
	// Notifier runs the keys' hooks; nil runs none.
	Notifier Notifier
	// Leadership, with several replicas, says whether this one may still
	// act (leader.FencedStore): it is asked before every side effect at a
	// provider or a sink. nil on a single replica.
	Leadership Leadership
	// OnIdle, when set, is called by Serve each time it goes idle after
	// doing work: no job is running and the next event is at least
	// IdleAfter away (the start-up pass over every key is the first such
	// time). The daemon returns free memory to the operating system there,
	// so that an idle daemon holds only its live data.
	OnIdle func()
}

// IdleAfter is how far away the next event must be for Serve to call
// Options.OnIdle: returning memory costs one garbage collection, so the
// pause must be long enough to be worth it.
const IdleAfter = 10 * time.Second

// withDefaults fills the options left zero.
func (o Options) withDefaults() Options {
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = config.DefaultMaxConcurrent
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = config.DefaultShutdownTimeout
	}
	if o.OrphanScanInterval <= 0 {
		o.OrphanScanInterval = config.DefaultOrphanScanInterval
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 30 * time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = time.Hour
	}
	if o.VerifyAttempts <= 0 {
		o.VerifyAttempts = 3
	}
	return o
}

// validate reports every missing dependency.
func (o Options) validate() error {
	var errs []error
	if o.Store == nil {
		errs = append(errs, errors.New("options: Store is nil"))
	}
	if o.Logger == nil {
		errs = append(errs, errors.New("options: Logger is nil"))
	}
	if o.Metrics == nil {
		errs = append(errs, errors.New("options: Metrics is nil"))
	}
	if o.Clock == nil {
		errs = append(errs, errors.New("options: Clock is nil"))
	}
	for _, k := range o.Keys {
		if k.Provider == nil {
			errs = append(errs, fmt.Errorf("options: key %s has no provider", k.Policy.Name))
		}
		if o.Providers[k.Policy.Provider] == nil {
			errs = append(errs, fmt.Errorf("options: provider %s of key %s is not in Providers", k.Policy.Provider, k.Policy.Name))
		}
	}
	return errors.Join(errs...)
}

// Engine runs the lifecycle of every managed key.
type Engine struct {
	o     Options
	log   *zap.Logger
	m     *Metrics
	clock clockwork.Clock
	keys  map[string]*keyRunner
	order []string

	// draining is set once shutdown began: no new step starts.
	draining atomic.Bool
	// mu guards keys and order, which Reload replaces.
	mu sync.RWMutex
	// sched is Serve's scheduler while Serve runs.
	sched  atomic.Pointer[scheduler]
	randMu sync.Mutex
	rnd    *rand.Rand
	// retireMu serialises Retire; retiredBound are the targets it bound
	// again for keys no longer in the policy (retire.go).
	retireMu     sync.Mutex
	retiredBound map[retiredTarget]sinks.Target
}

// keyRunner serialises work on one key and holds the credential of the
// rotation in flight, in memory only.
type keyRunner struct {
	mu sync.Mutex
	// k is the key's policy. Reload replaces it holding both mu (so that an
	// evaluation in flight finishes under the policy it started with) and
	// kmu (so that readers outside an evaluation can take kmu alone).
	k   *Managed
	kmu sync.RWMutex
	log keyLog
	// inflight is the new credential of the rotation in flight; nil after a
	// restart, when it is read back from a sink.
	inflight *inflight
	// actor, reason and note describe the evaluation in progress, for the
	// audit trail.
	actor, reason, note string
}

type inflight struct {
	rotationID string
	cred       providers.Credential
}

// New builds an engine.
func New(o Options) (*Engine, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	e := &Engine{o: o, log: o.Logger, m: o.Metrics, clock: o.Clock, keys: map[string]*keyRunner{},
		rnd: rand.New(rand.NewPCG(uint64(o.Clock.Now().UnixNano()), 0x5eed))}
	keyLogger := o.Logger.WithOptions(zap.AddCallerSkip(2))
	for _, k := range o.Keys {
		e.keys[k.Policy.Name] = &keyRunner{k: k, log: newKeyLog(keyLogger, k.Policy.Name)}
		e.order = append(e.order, k.Policy.Name)
	}
	e.initMetrics(Policy{Keys: o.Keys, Providers: o.Providers, Sinks: o.Sinks})
	e.m.started(o.Clock.Now())
	return e, nil
}

func (e *Engine) random() float64 {
	e.randMu.Lock()
	defer e.randMu.Unlock()
	return e.rnd.Float64()
}

func (e *Engine) backoff(n int) time.Duration {
	return backoff.Policy{Base: e.o.RetryBase, Max: e.o.RetryMax, Jitter: 0.2}.Delay(n, e.random())
}

// export publishes the key's state as gauges.
func (e *Engine) export(r *keyRunner, st state.Key) {
	k := r.k.Policy
	// When the schedule calls for the next rotation (a backoff does not
	// move it, so that RotationOverdue fires while rotations keep failing);
	// a paused key is never overdue.
	next := NextRotation(k, st)
	paused := 0.0
	if k.Paused || st.Paused != nil {
		next, paused = time.Time{}, 1
	}
	var earliest, supersededUsed time.Time
	for _, rt := range st.Retiring {
		if earliest.IsZero() || rt.RevokeAfter.Before(earliest) {
			earliest = rt.RevokeAfter
		}
		supersededUsed = maxTime(supersededUsed, rt.LastUsedAt)
	}
	var created, lastUsed, deadline time.Time
	if st.Current != nil {
		created = st.Current.CreatedAt
		lastUsed = st.LastUsedAt
		if ir, ok := r.k.Provider.(providers.IdleRevoker); ok && ir.IdleRevocationAfter() > 0 {
			base := maxTime(maxTime(lastUsed, created), st.LastKeepAliveAt)
			deadline = base.Add(ir.IdleRevocationAfter())
		}
	}
	e.m.setKey(k.Name, keyGauges{
		lastSuccess:         ts(st.LastSuccessAt),
		nextRotation:        ts(next),
		keyCreated:          ts(created),
		keyLastUsed:         ts(lastUsed),
		inactivityDeadline:  ts(deadline),
		lastKeepAlive:       ts(st.LastKeepAliveAt),
		pendingRevocations:  float64(len(st.Retiring)),
		revocationDeadline:  ts(earliest),
		supersededLastUsed:  ts(supersededUsed),
		consecutiveFailures: float64(st.Failures),
		paused:              paused,
	})
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// put records the state durably; a failure to record stops the step.
func (e *Engine) put(st *state.Key) error {
	if err := e.o.Store.Put(*st); err != nil {
		return fmt.Errorf("record state: %w", err)
	}
	return nil
}

// providerFor returns the provider a recorded key lives at.
func (e *Engine) providerFor(r *keyRunner, name string) (providers.Provider, error) {
	if name == "" || name == r.k.Policy.Provider {
		return r.k.Provider, nil
	}
	if p := e.provider(name); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("provider %q is no longer configured", name)
}

// Failpoints are the side-effect boundaries Options.Failpoint is called
// at, in lifecycle order.
var Failpoints = []string{
	"after-intent", "after-create", "after-created", "after-sink-write", "after-written",
	"after-promote", "after-commit", "before-revoke", "after-revoke",
}

func (e *Engine) failpoint(point string) {
	if e.o.Failpoint != nil {
		e.o.Failpoint(point)
	}
}
