// Package hooks tells consumers what happened to their keys: it runs the
// hooks a key subscribes to (exec: a command without a shell; webhook: a
// signed HTTPS POST) on the engine's events. It implements
// rotate.Notifier: Notify never blocks, each hook has its own bounded
// queues and workers, so a slow or hanging hook never stalls rotation nor
// the other hooks, and events reach one hook for one key in order.
//
// No secret is ever handed to a hook: consumers read the new key from
// their sink. A hook with block_revocation that succeeds on converged
// releases the old key's revocation through the Succeeded callback.
package hooks

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/backoff"
	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/rotate"
)

// Defaults of Options.
const (
	// DefaultShards is how many workers each hook has; one key's events
	// always go to the same one.
	DefaultShards = 4
	// DefaultQueue is how many events each worker holds; beyond it an
	// event is dropped (logged and counted as result "dropped").
	DefaultQueue = 1024
	// DefaultAttempts bounds a webhook's deliveries of one event.
	DefaultAttempts = 5
)

// DefaultRetry is the delay between a webhook's attempts.
var DefaultRetry = backoff.Policy{Base: time.Second, Max: 30 * time.Second, Jitter: 0.2}

// Succeeded is Engine.HookSucceeded: hook succeeded on the converged event
// of key's new key newKeyID.
type Succeeded func(key, newKeyID, hook string) error

// Options configure a Runner.
type Options struct {
	Hooks []config.Hook
	// Keys are the managed keys' policies: their hooks: references.
	Keys       []config.Key
	Logger     *zap.Logger
	Clock      clockwork.Clock
	Registerer prometheus.Registerer
	UserAgent  string
	// Client posts webhooks; nil: HTTPS with the system's roots, no
	// redirects, the environment's proxy.
	Client *http.Client
	// Retry and Attempts shape webhook retries (zero: the defaults).
	Retry    backoff.Policy
	Attempts int
	// Shards and Queue size the queues (zero: the defaults).
	Shards, Queue int
	// DrainTimeout bounds Close's wait for queued and running hooks
	// before the running ones are killed (zero: no wait).
	DrainTimeout time.Duration
}

// job is one event for one hook.
type job struct {
	ev    rotate.HookEvent
	block bool
	def   *def
}

// def is a configured hook: what one run does.
type def struct {
	cfg config.Hook
	run func(ctx context.Context, ev rotate.HookEvent) error
}

// lane is a hook name's queues, each with its worker; it outlives
// reloads, so that one key's events for one hook stay in order.
type lane struct {
	queues []chan job
}

// table is what Notify reads: replaced whole by Reload.
type table struct {
	defs  map[string]*def
	lanes map[string]*lane
	refs  map[string][]config.HookRef // key name → its hooks
}

// Runner runs hooks; it is a rotate.Notifier.
type Runner struct {
	o       Options
	log     *zap.Logger
	metrics *metrics
	table   atomic.Pointer[table]

	mu        sync.Mutex
	started   bool
	succeeded Succeeded
	ctx       context.Context // cancelled when Close gives up draining
	cancel    context.CancelFunc
	drain     chan struct{} // closed by Close
	wg        sync.WaitGroup
}

var (
	_ rotate.Notifier      = (*Runner)(nil)
	_ prometheus.Collector = (*Runner)(nil)
)

// New builds a Runner; it starts nothing until Start.
func New(o Options) (*Runner, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Client == nil {
		o.Client = defaultClient()
	}
	if o.Retry == (backoff.Policy{}) {
		o.Retry = DefaultRetry
	}
	o.Attempts = cmp(o.Attempts, DefaultAttempts)
	o.Shards = cmp(o.Shards, DefaultShards)
	o.Queue = cmp(o.Queue, DefaultQueue)
	r := &Runner{o: o, log: o.Logger, drain: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	t := &table{defs: map[string]*def{}, lanes: map[string]*lane{}, refs: map[string][]config.HookRef{}}
	for _, hc := range o.Hooks {
		d := &def{cfg: hc}
		switch hc.Type {
		case config.HookExec:
			d.run = r.execRun(hc)
		case config.HookWebhook:
			d.run = r.webhookRun(hc)
		default:
			return nil, fmt.Errorf("%s: unknown hook type %q", hc.Path, hc.Type)
		}
		t.defs[hc.Name] = d
		t.lanes[hc.Name] = r.newLane()
	}
	for _, k := range o.Keys {
		for _, ref := range k.Hooks {
			if t.defs[ref.Hook] == nil {
				return nil, fmt.Errorf("%s: hook %q is not defined", ref.Path, ref.Hook)
			}
		}
		if len(k.Hooks) > 0 {
			t.refs[k.Name] = k.Hooks
		}
	}
	r.table.Store(t)
	r.metrics = newMetrics(o.Registerer, o.Hooks)
	r.o.Keys = nil // t.refs holds what the runner needs of them
	return r, nil
}

func (r *Runner) newLane() *lane {
	l := &lane{queues: make([]chan job, r.o.Shards)}
	for i := range l.queues {
		l.queues[i] = make(chan job, r.o.Queue)
	}
	return l
}

func cmp(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Len is how many hooks are configured.
func (r *Runner) Len() int { return len(r.table.Load().defs) }

// Reload takes the hooks and the keys' references of next (a Runner
// wire built from the reloaded policy, never started): events from now
// on run the new definitions. Queued events run with the definition they
// were queued with; a hook's queues and workers are kept by name.
func (r *Runner) Reload(next *Runner) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, nt := r.table.Load(), next.table.Load()
	t := &table{defs: map[string]*def{}, lanes: map[string]*lane{}, refs: nt.refs}
	var added []config.Hook
	for name, d := range nt.defs {
		nd := &def{cfg: d.cfg}
		if d.cfg.Type == config.HookExec {
			nd.run = r.execRun(d.cfg)
		} else {
			nd.run = r.webhookRun(d.cfg)
		}
		t.defs[name] = nd
		if l := old.lanes[name]; l != nil {
			t.lanes[name] = l
			continue
		}
		t.lanes[name] = r.newLane()
		added = append(added, d.cfg)
		if r.started {
			r.startLane(t.lanes[name])
		}
	}
	for name, l := range old.lanes { // removed hooks: their workers drain what is queued
		if t.lanes[name] == nil {
			t.lanes[name] = l
		}
	}
	r.metrics.init(added)
	r.table.Store(t)
}

// Notify queues the event for every hook of its key that runs on it. It
// never blocks: when a hook's queue is full the event is dropped for that
// hook, with an error log and result "dropped" (a block_revocation hook
// then holds the old key until max_grace).
func (r *Runner) Notify(ev rotate.HookEvent) {
	t := r.table.Load()
	for _, ref := range t.refs[ev.Key] {
		d, l := t.defs[ref.Hook], t.lanes[ref.Hook]
		if !ref.Runs(ev.Event) || d == nil {
			continue
		}
		j := job{ev: ev, block: ref.BlockRevocation && ev.Event == config.EventConverged, def: d}
		select {
		case l.queues[shard(ev.Key, len(l.queues))] <- j:
		default:
			r.metrics.runs.WithLabelValues(ref.Hook, ev.Event, resultDropped).Inc()
			r.log.Error("hook queue is full; the event is dropped for this hook", zap.String("hook", ref.Hook),
				zap.String("event", ev.Event), zap.String("key", ev.Key), zap.String("key_id", ev.KeyID),
				zap.Bool("block_revocation", j.block))
		}
	}
}

func shard(key string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// Start starts the workers; succeeded (Engine.HookSucceeded) is told of
// each block_revocation hook that succeeds on converged. Events notified
// before Start wait in the queues. Calling Start again only rebinds
// succeeded (a new engine, as after a leadership change).
func (r *Runner) Start(succeeded Succeeded) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.succeeded = succeeded
	if r.started {
		return
	}
	r.started = true
	for _, l := range r.table.Load().lanes {
		r.startLane(l)
	}
}

func (r *Runner) startLane(l *lane) {
	for _, q := range l.queues {
		r.wg.Add(1)
		go r.work(q)
	}
}

// Close stops the workers: they finish what is queued within
// DrainTimeout, then the running hooks are cancelled (an exec hook's
// process group killed) and the rest dropped. It is safe to call more
// than once, and without Start.
func (r *Runner) Close() {
	r.mu.Lock()
	select {
	case <-r.drain:
	default:
		close(r.drain)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	if r.o.DrainTimeout > 0 {
		select {
		case <-done:
		case <-r.o.Clock.After(r.o.DrainTimeout):
			r.log.Warn("hooks still running at shutdown are cancelled", zap.Duration("drain_timeout", r.o.DrainTimeout))
		}
	}
	r.cancel()
	<-done
}

func (r *Runner) work(q chan job) {
	defer r.wg.Done()
	for {
		select {
		case j := <-q:
			r.runJob(j)
			continue
		case <-r.ctx.Done():
			return
		case <-r.drain:
		}
		for { // draining: what is queued, then stop
			select {
			case j := <-q:
				r.runJob(j)
			default:
				return
			}
		}
	}
}

// runJob runs one hook on one event, records it, and releases the
// revocation it blocks.
func (r *Runner) runJob(j job) {
	h := j.def
	if r.ctx.Err() != nil {
		r.metrics.runs.WithLabelValues(h.cfg.Name, j.ev.Event, resultDropped).Inc()
		return
	}
	start := r.o.Clock.Now()
	err := h.run(r.ctx, j.ev)
	took := r.o.Clock.Since(start)
	fields := []zap.Field{zap.String("hook", h.cfg.Name), zap.String("hook_type", h.cfg.Type), zap.String("event", j.ev.Event),
		zap.String("key", j.ev.Key), zap.String("key_id", j.ev.KeyID), zap.Duration("duration", took)}
	r.metrics.duration.WithLabelValues(h.cfg.Name).Observe(took.Seconds())
	if err != nil {
		r.metrics.runs.WithLabelValues(h.cfg.Name, j.ev.Event, resultFailure).Inc()
		msg := "hook failed"
		if j.block {
			msg = "hook failed; the old key's revocation keeps waiting for it (at most max_grace)"
		}
		r.log.Error(msg, append(fields, zap.Error(err))...)
		return
	}
	if j.block {
		r.release(j, h.cfg.Name, fields)
	}
	// Counted after its effect: a test (or an operator) that sees the
	// count sees the released revocation.
	r.metrics.runs.WithLabelValues(h.cfg.Name, j.ev.Event, resultSuccess).Inc()
	r.log.Info("hook succeeded", fields...)
}

// release tells the engine that a block_revocation hook succeeded on
// converged.
func (r *Runner) release(j job, hook string, fields []zap.Field) {
	r.mu.Lock()
	succeeded := r.succeeded
	r.mu.Unlock()
	if succeeded == nil {
		return
	}
	if err := succeeded(j.ev.Key, j.ev.KeyID, hook); err != nil {
		r.log.Error("cannot record the hook's success; the old key's revocation keeps waiting for it (at most max_grace)",
			append(fields, zap.Error(err))...)
	}
}
