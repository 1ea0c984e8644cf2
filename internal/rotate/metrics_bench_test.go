package rotate

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkScrape10kKeys serves /metrics for 10,000 keys as Prometheus
// scrapes it (gzip): what a scrape costs the daemon every 15-60 s.
func BenchmarkScrape10kKeys(b *testing.B) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	for i := 0; i < 10000; i++ {
		m.InitKey(fmt.Sprintf("k%05d", i), "smtpd")
	}
	h := m.Handler(reg)
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
