package rotate

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the daemon's Prometheus series, registered on an injected
// registry. Every per-key, per-sink and per-provider series is created at
// zero when the key, sink or provider is configured, so that rate() and
// absent-free alerts work from the first scrape.
type Metrics struct {
	rotations           *prometheus.CounterVec
	rotationDuration    *prometheus.HistogramVec
	lastSuccess         *prometheus.GaugeVec
	nextRotation        *prometheus.GaugeVec
	keyCreated          *prometheus.GaugeVec
	keyLastUsed         *prometheus.GaugeVec
	inactivityDeadline  *prometheus.GaugeVec
	keepalives          *prometheus.CounterVec
	lastKeepAlive       *prometheus.GaugeVec
	revocations         *prometheus.CounterVec
	pendingRevocations  *prometheus.GaugeVec
	revocationDeadline  *prometheus.GaugeVec
	consecutiveFailures *prometheus.GaugeVec
	emergencies         *prometheus.CounterVec
	sinkWrites          *prometheus.CounterVec
	providerRequests    *prometheus.CounterVec
	providerDuration    *prometheus.HistogramVec
	orphaned            *prometheus.GaugeVec
}

// Result label values.
const (
	resultSuccess = "success"
	resultFailure = "failure"
)

// NewMetrics creates and registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns = "rotator"
	key := []string{"key"}
	m := &Metrics{
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rotations_total",
			Help: "Rotation attempts by key, provider and result (success, failure)."}, []string{"key", "provider", "result"}),
		rotationDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "rotation_duration_seconds",
			Help:    "Duration of rotation attempts, from create to promote.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}}, key),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "last_rotation_success_timestamp_seconds",
			Help: "When the key was last rotated successfully (0 = never)."}, key),
		nextRotation: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "next_rotation_timestamp_seconds",
			Help: "When the key's schedule next calls for a rotation, computed from the last success; it stays in the past while rotations fail."}, key),
		keyCreated: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "key_created_timestamp_seconds",
			Help: "When the current provider key was created (0 = no current key)."}, key),
		keyLastUsed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "key_last_used_timestamp_seconds",
			Help: "When the provider last saw the current key used, as read back after keep-alive (0 = unknown)."}, key),
		inactivityDeadline: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "key_inactivity_deadline_timestamp_seconds",
			Help: "When the provider would revoke the current key for inactivity (0 = the provider does not)."}, key),
		keepalives: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "keepalives_total",
			Help: "Keep-alive uses of live keys by result."}, []string{"key", "result"}),
		lastKeepAlive: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "last_keepalive_success_timestamp_seconds",
			Help: "When the current key was last used successfully by keep-alive or verification (0 = never)."}, key),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "revocations_total",
			Help: "Revocations of superseded keys by result."}, []string{"key", "result"}),
		pendingRevocations: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "pending_revocations",
			Help: "Superseded keys not yet revoked (in grace or failing to revoke)."}, key),
		revocationDeadline: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "revocation_deadline_timestamp_seconds",
			Help: "Earliest revocation deadline among the key's pending revocations (0 = none)."}, key),
		consecutiveFailures: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "key_consecutive_failures",
			Help: "Rotation attempts failed in a row since the last success."}, key),
		emergencies: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "emergency_rotations_total",
			Help: "Rotations started because the current key was found revoked or rejected by the provider."}, key),
		sinkWrites: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "sink_writes_total",
			Help: "Writes of rotated credentials to sinks by result."}, []string{"sink", "result"}),
		providerRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "provider_requests_total",
			Help: "HTTP requests to providers by HTTP status code (or timeout, error)."}, []string{"provider", "code"}),
		providerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "provider_request_duration_seconds",
			Help: "Latency of HTTP requests to providers.", Buckets: prometheus.DefBuckets}, []string{"provider"}),
		orphaned: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "orphaned_keys",
			Help: "Keys at the provider named with a managed key's prefix that the state does not know, at the last scan."}, []string{"provider"}),
	}
	reg.MustRegister(m.rotations, m.rotationDuration, m.lastSuccess, m.nextRotation, m.keyCreated, m.keyLastUsed,
		m.inactivityDeadline, m.keepalives, m.lastKeepAlive, m.revocations, m.pendingRevocations, m.revocationDeadline,
		m.consecutiveFailures, m.emergencies, m.sinkWrites, m.providerRequests, m.providerDuration, m.orphaned)
	return m
}

// InitKey creates every series of a key at zero.
func (m *Metrics) InitKey(key, provider string) {
	for _, r := range []string{resultSuccess, resultFailure} {
		m.rotations.WithLabelValues(key, provider, r)
		m.keepalives.WithLabelValues(key, r)
		m.revocations.WithLabelValues(key, r)
	}
	m.rotationDuration.WithLabelValues(key)
	for _, g := range []*prometheus.GaugeVec{m.lastSuccess, m.nextRotation, m.keyCreated, m.keyLastUsed,
		m.inactivityDeadline, m.lastKeepAlive, m.pendingRevocations, m.revocationDeadline, m.consecutiveFailures} {
		g.WithLabelValues(key)
	}
	m.emergencies.WithLabelValues(key)
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
