package hooks

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotator-dev/rotator/internal/config"
)

// Result label values of rotator_hook_runs_total.
const (
	resultSuccess = "success"
	resultFailure = "failure"
	// resultDropped: the hook's queue was full, or the daemon stopped
	// before the hook ran.
	resultDropped = "dropped"
)

var results = []string{resultSuccess, resultFailure, resultDropped}

type metrics struct {
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newMetrics registers the hook series on reg, every label set at zero.
func newMetrics(reg prometheus.Registerer, hooks []config.Hook) *metrics {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "rotator", Name: "hook_runs_total",
			Help: "Runs of hooks by hook, event and result (success, failure, dropped)."}, []string{"hook", "event", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "rotator", Name: "hook_duration_seconds",
			Help:    "Duration of hook runs (a webhook's retries included).",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"hook"}),
	}
	reg.MustRegister(m.runs, m.duration)
	m.init(hooks)
	return m
}

// init creates the hooks' label sets at zero.
func (m *metrics) init(hooks []config.Hook) {
	for _, h := range hooks {
		m.duration.WithLabelValues(h.Name)
		for _, ev := range config.Events {
			for _, res := range results {
				m.runs.WithLabelValues(h.Name, ev, res)
			}
		}
	}
}

// Describe and Collect make the Runner a prometheus.Collector of its own
// series, for a registry other than Options.Registerer:
// reg.MustRegister(runner).
func (r *Runner) Describe(ch chan<- *prometheus.Desc) {
	r.metrics.runs.Describe(ch)
	r.metrics.duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (r *Runner) Collect(ch chan<- prometheus.Metric) {
	r.metrics.runs.Collect(ch)
	r.metrics.duration.Collect(ch)
}
