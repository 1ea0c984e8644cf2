package rotate

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/state"
)

// What the engine tests of package rotate_test (on the rotatetest rig)
// reach inside the engine.

var (
	ErrNotLeader = errNotLeader
	VerifyOnce   = verifyOnce
	JitterFor    = jitterFor
	Ts           = ts
	AppendValue  = appendValue
	Served       = served
)

const (
	TriggerProvider = triggerProvider
	TriggerOperator = triggerOperator
)

// Opts are the options the engine runs with; a test may change them.
func (e *Engine) Opts() *Options { return &e.o }

// Policy is a managed key's policy; a test may change it.
func (e *Engine) Policy(key string) *config.Key { return &e.keys[key].k.Policy }

// Managed is what the engine manages for key now.
func (e *Engine) Managed(key string) *Managed { return e.runner(key).managed() }

// Export exports the key's record to the metrics.
func (e *Engine) Export(key string, st state.Key) { e.export(e.keys[key], st) }

// RunJob runs one scheduler job as Serve would.
func (e *Engine) RunJob(ctx context.Context, job string) { e.runJob(ctx, job) }

// RenotifyAwaiting sends the awaited events again, as after a restart.
func (e *Engine) RenotifyAwaiting() { e.renotifyAwaiting() }

// Scheduling gives the engine a scheduler, as while Serve runs, until stop.
func (e *Engine) Scheduling() (stop func()) {
	e.sched.Store(newScheduler(e.clock))
	return func() { e.sched.Store(nil) }
}

func (m *Metrics) KeyValue(family, key, label string) float64 { return m.keyValue(family, key, label) }
func (m *Metrics) KeyGauge(metric, key string) float64        { return m.keyGauge(metric, key) }
func (m *Metrics) RotationCount(key, res string) float64      { return m.rotationCount(key, res) }
func (m *Metrics) RotationDone(key string, err error, took time.Duration) {
	m.rotationDone(key, err, took)
}
func (m *Metrics) Orphaned() *prometheus.GaugeVec { return m.orphaned }
