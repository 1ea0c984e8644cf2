package rotate

import (
	"bufio"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// Handler serves /metrics in the Prometheus text format: the families
// gathered from g (the registry NewMetrics registered on, with whatever
// else the daemon registers there), then the per-key families of
// keyFamilies, written straight from each key's keyMetrics. At 10,000
// keys that is ~340,000 series; going through client_golang (const
// metrics, or dto families built for promhttp) costs 3 to 30 times the
// time and 50 to 100 times the garbage of writing them directly, over the
// scrape budget (docs/performance.md, "One metrics path").
//
// The response is always text/plain; version=0.0.4, which every
// Prometheus version accepts whatever it asked for, gzipped when the
// client accepts gzip. A gather error answers 500 and names the error, as
// promhttp does by default.
func (m *Metrics) Handler(g prometheus.Gatherer) http.Handler {
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
			// BestSpeed: 10,000 keys' 19 MiB of text compress in 1/3 of
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
		writeKeyFamilies(bw, m.keys.inOrder())
	})
}

func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// writeKeyFamilies writes every family of keyFamilies for keys.
func writeKeyFamilies(w *bufio.Writer, keys []*keyMetrics) {
	var b []byte // one key's lines at a time, reused
	for _, f := range keyFamilies {
		_, _ = w.WriteString("# HELP " + f.name + " " + helpEscaper.Replace(f.help) + "\n# TYPE " + f.name + " " + f.typ + "\n")
		for _, k := range keys {
			if f.typ == "histogram" {
				b = appendHistogram(b, &f, k)
			}
			for _, s := range f.series {
				b = appendSeries(b, &f, "", k, f.label, s.value, s.get(k))
			}
			_, _ = w.Write(b)
			b = b[:0]
		}
	}
}

// appendHistogram appends a key's rotation durations as f's series.
func appendHistogram(b []byte, f *keyFamily, k *keyMetrics) []byte {
	h := &k.duration
	var cum uint64
	for i, le := range rotationDurationLe {
		cum += h.buckets[i].Load()
		b = appendSeries(b, f, "_bucket", k, "le", le, float64(cum))
	}
	count := h.count.Load()
	b = appendSeries(b, f, "_bucket", k, "le", "+Inf", float64(count))
	b = appendSeries(b, f, "_sum", k, "", "", math.Float64frombits(h.sumBits.Load()))
	return appendSeries(b, f, "_count", k, "", "", float64(count))
}

// appendSeries appends `name+suffix{key="k"[,provider="p"][,label="value"]} v`.
func appendSeries(b []byte, f *keyFamily, suffix string, k *keyMetrics, label, value string, v float64) []byte {
	b = append(b, f.name...)
	b = append(b, suffix...)
	b = append(b, `{key="`...)
	b = append(b, k.keyLabel...)
	if f.provider {
		b = append(b, `",provider="`...)
		b = append(b, k.providerLabel...)
	}
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

// escapeLabel escapes \, " and newline in a label value. Key and provider
// names are validated to need none, but the format must hold whatever
// they are.
func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return labelEscaper.Replace(s)
}

// rotationDurationLe are the le label values of rotationDurationBuckets.
var rotationDurationLe = func() (le [len(rotationDurationBuckets)]string) {
	for i, b := range rotationDurationBuckets {
		le[i] = strconv.FormatFloat(b, 'g', -1, 64)
	}
	return le
}()

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)
