package rotate

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the daemon's Prometheus series. The per-key families (the
// table keyFamilies) live in one small struct per key and are written by
// Handler; the few per-sink and per-provider series are client_golang
// vectors on an injected registry, which Handler serves first. Every
// series is created at zero when its key, sink or provider is configured,
// so that rate() and absent-free alerts work from the first scrape.
type Metrics struct {
	keys             keyStore
	sinkWrites       *prometheus.CounterVec
	providerRequests *prometheus.CounterVec
	providerDuration *prometheus.HistogramVec
	orphaned         *prometheus.GaugeVec
	reloadOK         prometheus.Gauge
	reloadAt         prometheus.Gauge
	leader           prometheus.Gauge
	// reloaded is set by the first ReloadDone.
	reloaded atomic.Bool
}

// Result label values.
const (
	resultSuccess = "success"
	resultFailure = "failure"
	// resultMaxGrace is a revocation made because max_grace was reached
	// while the superseded key was still in use (revoke_when: unused).
	resultMaxGrace = "max_grace"
)

// Trigger label values of rotator_emergency_rotations_total.
const (
	triggerProvider = "provider" // the provider no longer accepts the current key
	triggerOperator = "operator" // rotate --revoke-old-now
)

// NewMetrics creates the series and registers the registry-held ones on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns = "rotator"
	m := &Metrics{
		sinkWrites: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "sink_writes_total",
			Help: "Writes of rotated credentials to sinks by result."}, []string{"sink", "result"}),
		providerRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "provider_requests_total",
			Help: "HTTP requests to providers by HTTP status code (or timeout, error)."}, []string{"provider", "code"}),
		providerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "provider_request_duration_seconds",
			Help: "Latency of HTTP requests to providers.", Buckets: prometheus.DefBuckets}, []string{"provider"}),
		orphaned: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "orphaned_keys",
			Help: "Keys at the provider named with a managed key's prefix that the state does not know, at the last scan."}, []string{"provider"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful (1) or not (0)."}),
		reloadAt: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully, at start-up or by a reload."}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "leader",
			Help: "1 while this replica leads and runs the engine (always on a single-replica daemon), else 0."}),
	}
	// A daemon without leader election leads; replicas set it (SetLeader).
	m.leader.Set(1)
	reg.MustRegister(m.sinkWrites, m.providerRequests, m.providerDuration, m.orphaned, m.reloadOK, m.reloadAt, m.leader)
	return m
}

// ReloadDone records a configuration reload: ok = the new policy is in
// force (rotator_config_last_reload_successful 1 and the success time),
// else the running policy is kept (0, the success time stays).
func (m *Metrics) ReloadDone(ok bool, at time.Time) {
	m.reloaded.Store(true)
	if !ok {
		m.reloadOK.Set(0)
		return
	}
	m.reloadOK.Set(1)
	m.reloadAt.Set(ts(at))
}

// started records the configuration loaded at start-up as a successful
// reload, unless a reload was already recorded (an engine built again,
// as a new leader is, keeps what the reloads set).
func (m *Metrics) started(at time.Time) {
	if !m.reloaded.Load() {
		m.ReloadDone(true, at)
	}
}

// SetLeader sets rotator_leader: whether this replica leads and runs the
// engine.
func (m *Metrics) SetLeader(leading bool) {
	if leading {
		m.leader.Set(1)
	} else {
		m.leader.Set(0)
	}
}

// InitKey creates every series of a key at zero.
func (m *Metrics) InitKey(key, provider string) { m.keys.add(key, provider) }

// InitSink creates a sink's series at zero.
func (m *Metrics) InitSink(sink string) {
	m.sinkWrites.WithLabelValues(sink, resultSuccess)
	m.sinkWrites.WithLabelValues(sink, resultFailure)
}

// InitProvider creates a provider's series at zero.
func (m *Metrics) InitProvider(provider string) {
	m.orphaned.WithLabelValues(provider)
	m.providerDuration.WithLabelValues(provider)
}

// ObserveRequest implements providers.RequestObserver.
func (m *Metrics) ObserveRequest(provider, _ string, code string, took time.Duration) {
	m.providerRequests.WithLabelValues(provider, code).Inc()
	m.providerDuration.WithLabelValues(provider).Observe(took.Seconds())
}

// setKey replaces a key's gauges.
func (m *Metrics) setKey(key string, g keyGauges) { m.keys.get(key).gauges.Store(&g) }

// rotationDone counts a rotation attempt and its duration.
func (m *Metrics) rotationDone(key string, err error, took time.Duration) {
	k := m.keys.get(key)
	k.rotations.count(err)
	k.duration.observe(took.Seconds())
}

// keepAliveDone counts a keep-alive.
func (m *Metrics) keepAliveDone(key string, err error) { m.keys.get(key).keepalives.count(err) }

// revocationDone counts a revocation attempt.
func (m *Metrics) revocationDone(key string, err error) { m.keys.get(key).revocations.count(err) }

// revocationAtMaxGrace counts a successful revocation made because
// max_grace was reached (result="max_grace"): call it instead of
// revocationDone(key, nil); a failed one is revocationDone(key, err).
func (m *Metrics) revocationAtMaxGrace(key string) { m.keys.get(key).revokedAtMaxGrace.Add(1) }

// emergencyRotation counts an emergency rotation by its trigger:
// triggerOperator, else triggerProvider.
func (m *Metrics) emergencyRotation(key, trigger string) {
	i := 0
	if trigger == triggerOperator {
		i = 1
	}
	m.keys.get(key).emergencies[i].Add(1)
}

func ts(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func result(err error) string {
	if err != nil {
		return resultFailure
	}
	return resultSuccess
}
