package rotate

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// BenchmarkScrape10kKeys serves /metrics for 10,000 keys as Prometheus
// scrapes it (gzip): what a scrape costs the daemon every 15-60 s, with
// the daemon's handler (Metrics.Handler) and, for comparison, with
// client_golang's promhttp gathering every per-key series.
func BenchmarkScrape10kKeys(b *testing.B) {
	for _, direct := range []bool{true, false} {
		name := "Handler"
		if !direct {
			name = "promhttp"
		}
		b.Run(name, func(b *testing.B) {
			reg := prometheus.NewRegistry()
			m := NewMetrics(reg)
			for i := 0; i < 10000; i++ {
				m.InitKey(fmt.Sprintf("k%05d", i), "smtpd")
			}
			h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
			if direct {
				h = m.Handler(reg)
			}
			benchScrape(b, h)
		})
	}
}

func benchScrape(b *testing.B, h http.Handler) {
	var size int64
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1")
		req.Header.Set("Accept-Encoding", "gzip")
		rec := &countingWriter{header: http.Header{}}
		h.ServeHTTP(rec, req)
		size = rec.n
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

type countingWriter struct {
	header http.Header
	n      int64
}

func (w *countingWriter) Header() http.Header         { return w.header }
func (w *countingWriter) WriteHeader(int)             {}
func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)
