package rotate

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// rotationDurationBuckets are the upper bounds of
// rotator_rotation_duration_seconds.
var rotationDurationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// keyCounters are one key's counters and rotation-duration histogram, kept
// as atomics and turned into const metrics at scrape time: at 10,000 keys,
// live client_golang series for them cost tens of MiB.
type keyCounters struct {
	provider                                                string
	rotOK, rotFail, kaOK, kaFail, revOK, revFail, emergency atomic.Uint64
	// durBuckets counts observations per bucket (not cumulative); the last
	// slot is +Inf.
	durBuckets [12]atomic.Uint64
	durCount   atomic.Uint64
	durSumBits atomic.Uint64 // float64 bits
}

func (c *keyCounters) observe(seconds float64) {
	i := len(rotationDurationBuckets)
	for j, b := range rotationDurationBuckets {
		if seconds <= b {
			i = j
			break
		}
	}
	c.durBuckets[i].Add(1)
	c.durCount.Add(1)
	for {
		old := c.durSumBits.Load()
		if c.durSumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+seconds)) {
			return
		}
	}
}

// keyCounterCollector serves every key's counters and histogram.
type keyCounterCollector struct {
	rotations, keepalives, revocations, emergencies, duration *prometheus.Desc
	// names and helps of the families above, for Metrics.Handler.
	names, helps counterFamilies
	off          *atomic.Bool

	mu   sync.RWMutex
	keys map[string]*keyCounters
}

type counterFamilies struct{ rotations, keepalives, revocations, emergencies, duration string }

func newKeyCounterCollector(ns string, off *atomic.Bool) *keyCounterCollector {
	names := counterFamilies{ns + "_rotations_total", ns + "_keepalives_total", ns + "_revocations_total",
		ns + "_emergency_rotations_total", ns + "_rotation_duration_seconds"}
	helps := counterFamilies{
		"Rotation attempts by key, provider and result (success, failure).",
		"Keep-alive uses of live keys by result.",
		"Revocations of superseded keys by result.",
		"Rotations started because the current key was found revoked or rejected by the provider.",
		"Duration of rotation attempts, from create to promote.",
	}
	return &keyCounterCollector{
		rotations:   prometheus.NewDesc(names.rotations, helps.rotations, []string{"key", "provider", "result"}, nil),
		keepalives:  prometheus.NewDesc(names.keepalives, helps.keepalives, []string{"key", "result"}, nil),
		revocations: prometheus.NewDesc(names.revocations, helps.revocations, []string{"key", "result"}, nil),
		emergencies: prometheus.NewDesc(names.emergencies, helps.emergencies, []string{"key"}, nil),
		duration:    prometheus.NewDesc(names.duration, helps.duration, []string{"key"}, nil),
		names:       names, helps: helps, off: off,
		keys: map[string]*keyCounters{},
	}
}

// Describe implements prometheus.Collector.
func (c *keyCounterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rotations, c.keepalives, c.revocations, c.emergencies, c.duration} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *keyCounterCollector) Collect(ch chan<- prometheus.Metric) {
	if c.off.Load() {
		return
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	counter := func(d *prometheus.Desc, v *atomic.Uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v.Load()), labels...)
	}
	for key, k := range c.keys {
		counter(c.rotations, &k.rotOK, key, k.provider, resultSuccess)
		counter(c.rotations, &k.rotFail, key, k.provider, resultFailure)
		counter(c.keepalives, &k.kaOK, key, resultSuccess)
		counter(c.keepalives, &k.kaFail, key, resultFailure)
		counter(c.revocations, &k.revOK, key, resultSuccess)
		counter(c.revocations, &k.revFail, key, resultFailure)
		counter(c.emergencies, &k.emergency, key)
		buckets := make(map[float64]uint64, len(rotationDurationBuckets))
		var cum uint64
		for i, b := range rotationDurationBuckets {
			cum += k.durBuckets[i].Load()
			buckets[b] = cum
		}
		ch <- prometheus.MustNewConstHistogram(c.duration, k.durCount.Load(),
			math.Float64frombits(k.durSumBits.Load()), buckets, key)
	}
}

func (c *keyCounterCollector) add(key, provider string) {
	c.mu.Lock()
	if c.keys[key] == nil {
		c.keys[key] = &keyCounters{provider: provider}
	}
	c.mu.Unlock()
}

func (c *keyCounterCollector) get(key string) *keyCounters {
	c.mu.RLock()
	k := c.keys[key]
	c.mu.RUnlock()
	if k == nil {
		c.add(key, "")
		return c.get(key)
	}
	return k
}

func inc(ok, fail *atomic.Uint64, err error) {
	if err != nil {
		fail.Add(1)
	} else {
		ok.Add(1)
	}
}

// rotationDone counts a rotation attempt and its duration.
func (m *Metrics) rotationDone(key string, err error, took time.Duration) {
	k := m.counters.get(key)
	inc(&k.rotOK, &k.rotFail, err)
	k.observe(took.Seconds())
}

// keepAliveDone counts a keep-alive.
func (m *Metrics) keepAliveDone(key string, err error) {
	k := m.counters.get(key)
	inc(&k.kaOK, &k.kaFail, err)
}

// revocationDone counts a revocation attempt.
func (m *Metrics) revocationDone(key string, err error) {
	k := m.counters.get(key)
	inc(&k.revOK, &k.revFail, err)
}

// emergencyRotation counts an emergency rotation.
func (m *Metrics) emergencyRotation(key string) { m.counters.get(key).emergency.Add(1) }

// rotationCount returns a key's rotation count for a result (for tests).
func (m *Metrics) rotationCount(key, res string) float64 {
	k := m.counters.get(key)
	if res == resultFailure {
		return float64(k.rotFail.Load())
	}
	return float64(k.rotOK.Load())
}
