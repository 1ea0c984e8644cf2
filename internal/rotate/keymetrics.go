package rotate

import (
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// rotationDurationBuckets are the upper bounds of
// rotator_rotation_duration_seconds.
var rotationDurationBuckets = [...]float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// keyFamily is one per-key metric family. Every key has the same series in
// it, created at zero with the key; Metrics.Handler writes them from the
// key's keyMetrics at scrape time.
type keyFamily struct {
	name, help string
	typ        string // "gauge", "counter" or "histogram"
	// provider adds the key's provider label after key.
	provider bool
	// label tells a key's series apart ("" = one series per key); series
	// are in label value order.
	label  string
	series []keySeries
}

// keySeries is one series of a key in a family: its label value and how
// to read it (for a histogram, get is unused and the key's rotation
// durations are written).
type keySeries struct {
	value string
	get   func(*keyMetrics) float64
}

// keyFamilies are the per-key families, the only list of their names.
var keyFamilies = []keyFamily{
	{name: "rotator_rotations_total", help: "Rotation attempts by key, provider and result (success, failure).", typ: "counter",
		provider: true, label: "result", series: okFail(func(k *keyMetrics) *okFailCount { return &k.rotations })},
	{name: "rotator_rotation_duration_seconds", help: "Duration of rotation attempts, from create to promote.", typ: "histogram"},
	gauge("rotator_last_rotation_success_timestamp_seconds", "When the key was last rotated successfully (0 = never).",
		func(g *keyGauges) float64 { return g.lastSuccess }),
	gauge("rotator_next_rotation_timestamp_seconds", "When the key's schedule next calls for a rotation, computed from the last success; it stays in the past while rotations fail.",
		func(g *keyGauges) float64 { return g.nextRotation }),
	gauge("rotator_key_created_timestamp_seconds", "When the current provider key was created (0 = no current key).",
		func(g *keyGauges) float64 { return g.keyCreated }),
	gauge("rotator_key_last_used_timestamp_seconds", "When the provider last saw the current key used, as read back after keep-alive (0 = unknown).",
		func(g *keyGauges) float64 { return g.keyLastUsed }),
	gauge("rotator_key_inactivity_deadline_timestamp_seconds", "When the provider would revoke the current key for inactivity (0 = the provider does not).",
		func(g *keyGauges) float64 { return g.inactivityDeadline }),
	{name: "rotator_keepalives_total", help: "Keep-alive uses of live keys by result.", typ: "counter",
		label: "result", series: okFail(func(k *keyMetrics) *okFailCount { return &k.keepalives })},
	gauge("rotator_last_keepalive_success_timestamp_seconds", "When the current key was last used successfully by keep-alive or verification (0 = never).",
		func(g *keyGauges) float64 { return g.lastKeepAlive }),
	{name: "rotator_revocations_total", help: "Revocations of superseded keys by result.", typ: "counter",
		label: "result", series: []keySeries{
			{resultFailure, func(k *keyMetrics) float64 { return float64(k.revocations.fail.Load()) }},
			{resultMaxGrace, func(k *keyMetrics) float64 { return float64(k.revokedAtMaxGrace.Load()) }},
			{resultSuccess, func(k *keyMetrics) float64 { return float64(k.revocations.ok.Load()) }},
		}},
	gauge("rotator_pending_revocations", "Superseded keys not yet revoked (in grace or failing to revoke).",
		func(g *keyGauges) float64 { return g.pendingRevocations }),
	gauge("rotator_revocation_deadline_timestamp_seconds", "Earliest revocation deadline among the key's pending revocations (0 = none).",
		func(g *keyGauges) float64 { return g.revocationDeadline }),
	gauge("rotator_superseded_key_last_used_timestamp_seconds", "Newest use the provider reported of any of the key's superseded keys (0 = none reported).",
		func(g *keyGauges) float64 { return g.supersededLastUsed }),
	gauge("rotator_key_consecutive_failures", "Rotation attempts failed in a row since the last success.",
		func(g *keyGauges) float64 { return g.consecutiveFailures }),
	gauge("rotator_key_paused", "1 while the key's scheduled rotations are paused (in the policy or by an operator), else 0.",
		func(g *keyGauges) float64 { return g.paused }),
	{name: "rotator_emergency_rotations_total", help: "Emergency rotations by trigger: provider (the current key was found revoked or rejected by the provider) or operator (rotate --revoke-old-now).", typ: "counter",
		label: "trigger", series: []keySeries{
			{triggerOperator, func(k *keyMetrics) float64 { return float64(k.emergencies[1].Load()) }},
			{triggerProvider, func(k *keyMetrics) float64 { return float64(k.emergencies[0].Load()) }},
		}},
}

// gauge is a family of one gauge per key, read from the key's snapshot.
func gauge(name, help string, get func(*keyGauges) float64) keyFamily {
	return keyFamily{name: name, help: help, typ: "gauge",
		series: []keySeries{{get: func(k *keyMetrics) float64 { return get(k.snapshot()) }}}}
}

// okFail is a result-labelled counter's series, in label value order.
func okFail(c func(*keyMetrics) *okFailCount) []keySeries {
	return []keySeries{
		{resultFailure, func(k *keyMetrics) float64 { return float64(c(k).fail.Load()) }},
		{resultSuccess, func(k *keyMetrics) float64 { return float64(c(k).ok.Load()) }},
	}
}

// keyGauges is one key's gauge values, as the engine last exported them.
type keyGauges struct {
	lastSuccess, nextRotation, keyCreated, keyLastUsed, inactivityDeadline, lastKeepAlive,
	pendingRevocations, revocationDeadline, supersededLastUsed, consecutiveFailures, paused float64
}

// keyMetrics is one key's series: 224 bytes (and 88 for the gauges once
// exported), where live client_golang series for the same cost several
// KiB.
type keyMetrics struct {
	// keyLabel and providerLabel are the key's and its provider's label
	// values, escaped for the text format (the names themselves, unless
	// they hold \, " or a newline).
	keyLabel, providerLabel string
	gauges                  atomic.Pointer[keyGauges]
	rotations, keepalives   okFailCount
	revocations             okFailCount
	revokedAtMaxGrace       atomic.Uint64
	// emergencies counts emergency rotations by trigger: provider, operator.
	emergencies [2]atomic.Uint64
	duration    histogram
}

var zeroGauges keyGauges

// snapshot returns the key's gauges as last exported (zero before).
func (k *keyMetrics) snapshot() *keyGauges {
	if g := k.gauges.Load(); g != nil {
		return g
	}
	return &zeroGauges
}

type okFailCount struct{ ok, fail atomic.Uint64 }

func (c *okFailCount) count(err error) {
	if err != nil {
		c.fail.Add(1)
	} else {
		c.ok.Add(1)
	}
}

// histogram counts observations per bucket of rotationDurationBuckets
// (not cumulative; the last slot is +Inf).
type histogram struct {
	buckets [len(rotationDurationBuckets) + 1]atomic.Uint64
	count   atomic.Uint64
	sumBits atomic.Uint64 // float64 bits
}

func (h *histogram) observe(seconds float64) {
	i, _ := slices.BinarySearch(rotationDurationBuckets[:], seconds)
	h.buckets[i].Add(1)
	h.count.Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+seconds)) {
			return
		}
	}
}

// keyStore holds every key's metrics, by name and in name order.
type keyStore struct {
	mu     sync.RWMutex
	byName map[string]*keyMetrics
	list   []*keyMetrics
	// unsorted is set when a key is added out of name order.
	unsorted bool
}

// add creates a key's series at zero; a key already there keeps them.
func (s *keyStore) add(key, provider string) *keyMetrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.byName[key]; k != nil {
		return k
	}
	if s.byName == nil {
		s.byName = map[string]*keyMetrics{}
	}
	k := &keyMetrics{keyLabel: escapeLabel(key), providerLabel: escapeLabel(provider)}
	s.byName[key] = k
	if n := len(s.list); n > 0 && s.list[n-1].keyLabel > k.keyLabel {
		s.unsorted = true
	}
	s.list = append(s.list, k)
	return k
}

// get returns a key's metrics, creating them if the key was never added.
func (s *keyStore) get(key string) *keyMetrics {
	s.mu.RLock()
	k := s.byName[key]
	s.mu.RUnlock()
	if k == nil {
		return s.add(key, "")
	}
	return k
}

// inOrder returns every key's metrics in name order (of the escaped
// names, which only differs for names no policy accepts).
func (s *keyStore) inOrder() []*keyMetrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unsorted {
		slices.SortFunc(s.list, func(a, b *keyMetrics) int { return strings.Compare(a.keyLabel, b.keyLabel) })
		s.unsorted = false
	}
	return slices.Clone(s.list)
}
