package rotate

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the daemon's Prometheus series, registered on an injected
// registry. Every per-key, per-sink and per-provider series is created at
// zero when the key, sink or provider is configured, so that rate() and
// absent-free alerts work from the first scrape.
type Metrics struct {
	// gauges serves the per-key gauges at scrape time from one small
	// snapshot per key: at 10,000 keys, 90,000 live gauge series would
	// cost ~40 MiB and most of the start-up time.
	gauges *keyGaugeCollector
	// counters serves the per-key counters and duration histogram the same
	// way, from atomics.
	counters         *keyCounterCollector
	sinkWrites       *prometheus.CounterVec
	providerRequests *prometheus.CounterVec
	providerDuration *prometheus.HistogramVec
	orphaned         *prometheus.GaugeVec
	// streamed is set by Handler: the per-key families are then written
	// by it, and the per-key collectors emit nothing.
	streamed atomic.Bool
}

// Result label values.
const (
	resultSuccess = "success"
	resultFailure = "failure"
)

// NewMetrics creates and registers the series on reg.
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
	}
	m.gauges = newKeyGaugeCollector(ns, &m.streamed)
	m.counters = newKeyCounterCollector(ns, &m.streamed)
	reg.MustRegister(m.gauges, m.counters, m.sinkWrites, m.providerRequests, m.providerDuration, m.orphaned)
	return m
}

// InitKey creates every series of a key at zero.
func (m *Metrics) InitKey(key, provider string) {
	m.counters.add(key, provider)
	m.setKey(key, keyGauges{})
}

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

// keyGauges is one key's gauge values, as the engine last exported them.
type keyGauges struct {
	lastSuccess, nextRotation, keyCreated, keyLastUsed, inactivityDeadline, lastKeepAlive,
	pendingRevocations, revocationDeadline, consecutiveFailures, paused float64
}

// keyGaugeSpecs names and explains the per-key gauges, in keyGauges order.
var keyGaugeSpecs = []struct {
	name, help string
	value      func(*keyGauges) float64
}{
	{"last_rotation_success_timestamp_seconds", "When the key was last rotated successfully (0 = never).",
		func(g *keyGauges) float64 { return g.lastSuccess }},
	{"next_rotation_timestamp_seconds", "When the key's schedule next calls for a rotation, computed from the last success; it stays in the past while rotations fail.",
		func(g *keyGauges) float64 { return g.nextRotation }},
	{"key_created_timestamp_seconds", "When the current provider key was created (0 = no current key).",
		func(g *keyGauges) float64 { return g.keyCreated }},
	{"key_last_used_timestamp_seconds", "When the provider last saw the current key used, as read back after keep-alive (0 = unknown).",
		func(g *keyGauges) float64 { return g.keyLastUsed }},
	{"key_inactivity_deadline_timestamp_seconds", "When the provider would revoke the current key for inactivity (0 = the provider does not).",
		func(g *keyGauges) float64 { return g.inactivityDeadline }},
	{"last_keepalive_success_timestamp_seconds", "When the current key was last used successfully by keep-alive or verification (0 = never).",
		func(g *keyGauges) float64 { return g.lastKeepAlive }},
	{"pending_revocations", "Superseded keys not yet revoked (in grace or failing to revoke).",
		func(g *keyGauges) float64 { return g.pendingRevocations }},
	{"revocation_deadline_timestamp_seconds", "Earliest revocation deadline among the key's pending revocations (0 = none).",
		func(g *keyGauges) float64 { return g.revocationDeadline }},
	{"key_consecutive_failures", "Rotation attempts failed in a row since the last success.",
		func(g *keyGauges) float64 { return g.consecutiveFailures }},
	{"key_paused", "1 while the key's scheduled rotations are paused (in the policy or by an operator), else 0.",
		func(g *keyGauges) float64 { return g.paused }},
}

// keyGaugeCollector serves the per-key gauges from the snapshots at
// scrape time (a prometheus.Collector of const metrics), instead of
// keeping nine live series per key.
type keyGaugeCollector struct {
	descs []*prometheus.Desc
	names []string // full names, in keyGaugeSpecs order
	off   *atomic.Bool
	mu    sync.RWMutex
	keys  map[string]*keyGauges
}

func newKeyGaugeCollector(ns string, off *atomic.Bool) *keyGaugeCollector {
	c := &keyGaugeCollector{keys: map[string]*keyGauges{}, off: off}
	for _, s := range keyGaugeSpecs {
		name := prometheus.BuildFQName(ns, "", s.name)
		c.names = append(c.names, name)
		c.descs = append(c.descs, prometheus.NewDesc(name, s.help, []string{"key"}, nil))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *keyGaugeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *keyGaugeCollector) Collect(ch chan<- prometheus.Metric) {
	if c.off.Load() {
		return
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for key, g := range c.keys {
		for i, s := range keyGaugeSpecs {
			ch <- prometheus.MustNewConstMetric(c.descs[i], prometheus.GaugeValue, s.value(g), key)
		}
	}
}

// setKey replaces a key's gauge snapshot.
func (m *Metrics) setKey(key string, g keyGauges) {
	m.gauges.mu.Lock()
	m.gauges.keys[key] = &g
	m.gauges.mu.Unlock()
}

// keyGauge returns one exported gauge value of a key (for tests).
func (m *Metrics) keyGauge(metric, key string) float64 {
	m.gauges.mu.RLock()
	defer m.gauges.mu.RUnlock()
	g := m.gauges.keys[key]
	for _, s := range keyGaugeSpecs {
		if g != nil && "rotator_"+s.name == metric {
			return s.value(g)
		}
	}
	return -1
}
