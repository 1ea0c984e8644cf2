package rotate

import (
	"bufio"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// Handler serves /metrics: the families gathered from g in the Prometheus
// text format, then the per-key families written straight from the
// per-key snapshots and counters. Going through client_golang, 10,000
// keys' ~300,000 per-key series cost 1.2 s of CPU and 130 MB of garbage a
// scrape (BenchmarkScrape10kKeys); written directly, a small fraction of
// that. Once Handler is called the per-key collectors registered by
// NewMetrics emit nothing, so that g does not gather them a second time.
//
// The response is always text/plain; version=0.0.4, which every
// Prometheus version accepts whatever it asked for, gzipped when the
// client accepts gzip. A gather error answers 500 and names the error, as
// promhttp does by default.
func (m *Metrics) Handler(g prometheus.Gatherer) http.Handler {
	m.streamed.Store(true)
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		families, err := g.Gather()
		if err != nil {
			http.Error(w, "error gathering metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", string(format))
		var out io.Writer = w
		if acceptsGzip(r) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Add("Vary", "Accept-Encoding")
			// BestSpeed: 10,000 keys' 18 MiB of text compress in 1/3 of
			// the default level's time, to a 7% larger response.
			gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
			defer gz.Close()
			out = gz
		}
		bw := bufio.NewWriterSize(out, 64<<10)
		defer bw.Flush()
		enc := expfmt.NewEncoder(bw, format)
		for _, f := range families {
			if err := enc.Encode(f); err != nil {
				return // the client went away
			}
		}
		m.writeKeyFamilies(bw)
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// writeKeyFamilies writes every per-key family in the text format, keys
// in name order; it is what the per-key collectors would emit.
func (m *Metrics) writeKeyFamilies(w *bufio.Writer) {
	gc, cc := m.gauges, m.counters
	gc.mu.RLock()
	gauges := make(map[string]keyGauges, len(gc.keys))
	for k, g := range gc.keys {
		gauges[k] = *g
	}
	gc.mu.RUnlock()
	cc.mu.RLock()
	counters := make(map[string]*keyCounters, len(cc.keys))
	for k, c := range cc.keys {
		counters[k] = c
	}
	cc.mu.RUnlock()
	sorted := func(keys []string) []string { slices.Sort(keys); return keys }
	gaugeKeys := sorted(mapKeys(gauges))
	counterKeys := sorted(mapKeys(counters))

	var b []byte // one line at a time, reused
	line := func() { _, _ = w.Write(b); b = b[:0] }
	for i, s := range keyGaugeSpecs {
		name := gc.names[i]
		writeHeader(w, name, s.help, "gauge")
		for _, k := range gaugeKeys {
			g := gauges[k]
			b = appendSample(b, name, "", k, "", "", s.value(&g))
			line()
		}
	}
	type counterFamily struct {
		name, help string
		byResult   bool
		ok, fail   func(*keyCounters) *atomic.Uint64
	}
	for _, f := range []counterFamily{
		{cc.names.rotations, cc.helps.rotations, true, func(c *keyCounters) *atomic.Uint64 { return &c.rotOK }, func(c *keyCounters) *atomic.Uint64 { return &c.rotFail }},
		{cc.names.keepalives, cc.helps.keepalives, true, func(c *keyCounters) *atomic.Uint64 { return &c.kaOK }, func(c *keyCounters) *atomic.Uint64 { return &c.kaFail }},
		{cc.names.revocations, cc.helps.revocations, true, func(c *keyCounters) *atomic.Uint64 { return &c.revOK }, func(c *keyCounters) *atomic.Uint64 { return &c.revFail }},
		{cc.names.emergencies, cc.helps.emergencies, false, func(c *keyCounters) *atomic.Uint64 { return &c.emergency }, nil},
	} {
		writeHeader(w, f.name, f.help, "counter")
		provider := f.name == cc.names.rotations
		for _, k := range counterKeys {
			c := counters[k]
			extra := ""
			if provider {
				extra = c.provider
			}
			if !f.byResult {
				b = appendSample(b, f.name, "", k, "", "", float64(f.ok(c).Load()))
				line()
				continue
			}
			// Label values in promhttp's order: failure sorts before success.
			b = appendCounter(b, f.name, k, provider, extra, resultFailure, float64(f.fail(c).Load()))
			line()
			b = appendCounter(b, f.name, k, provider, extra, resultSuccess, float64(f.ok(c).Load()))
			line()
		}
	}
	name := cc.names.duration
	writeHeader(w, name, cc.helps.duration, "histogram")
	for _, k := range counterKeys {
		c := counters[k]
		var cum uint64
		for i, le := range rotationDurationBuckets {
			cum += c.durBuckets[i].Load()
			b = appendSample(b, name, "_bucket", k, "le", strconv.FormatFloat(le, 'g', -1, 64), float64(cum))
			line()
		}
		count := c.durCount.Load()
		b = appendSample(b, name, "_bucket", k, "le", "+Inf", float64(count))
		line()
		b = appendSample(b, name, "_sum", k, "", "", math.Float64frombits(c.durSumBits.Load()))
		line()
		b = appendSample(b, name, "_count", k, "", "", float64(count))
		line()
	}
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func writeHeader(w *bufio.Writer, name, help, typ string) {
	_, _ = w.WriteString("# HELP " + name + " " + helpEscaper.Replace(help) + "\n# TYPE " + name + " " + typ + "\n")
}

// appendCounter appends a result-labelled counter sample; provider adds
// the provider label between key and result.
func appendCounter(b []byte, name, key string, provider bool, prov, res string, v float64) []byte {
	b = append(b, name...)
	b = append(b, `{key="`...)
	b = appendLabelValue(b, key)
	if provider {
		b = append(b, `",provider="`...)
		b = appendLabelValue(b, prov)
	}
	b = append(b, `",result="`...)
	b = append(b, res...)
	b = append(b, `"} `...)
	b = appendValue(b, v)
	return append(b, '\n')
}

// appendSample appends `name+suffix{key="key"[,label="value"]} v`.
func appendSample(b []byte, name, suffix, key, label, value string, v float64) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	b = append(b, `{key="`...)
	b = appendLabelValue(b, key)
	b = append(b, '"')
	if label != "" {
		b = append(b, ',')
		b = append(b, label...)
		b = append(b, `="`...)
		b = append(b, value...)
		b = append(b, '"')
	}
	b = append(b, "} "...)
	b = appendValue(b, v)
	return append(b, '\n')
}

// appendValue formats v as the text format (and expfmt) does.
func appendValue(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendLabelValue escapes \, " and newline. Key and provider names are
// validated to need none, but the format must hold whatever they are.
func appendLabelValue(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "\\\"\n") {
		return append(b, s...)
	}
	return append(b, labelEscaper.Replace(s)...)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)
