package rotate

import (
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
}

// Result label values.
const (
	resultSuccess = "success"
	resultFailure = "failure"
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
	}
	reg.MustRegister(m.sinkWrites, m.providerRequests, m.providerDuration, m.orphaned)
	return m
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

// emergencyRotation counts an emergency rotation.
func (m *Metrics) emergencyRotation(key string) { m.keys.get(key).emergencies.Add(1) }

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
