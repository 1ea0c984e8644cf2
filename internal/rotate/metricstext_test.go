package rotate

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// fillMetrics gives m the same, varied state in every test.
func fillMetrics(m *Metrics) {
	m.InitKey("mail", "smtpd")
	m.InitKey("billing", "emailit")
	m.InitKey(`odd"key\with`+"\nnewline", "smtpd") // not a valid key name; the format must hold it
	m.InitSink("vault")
	m.InitProvider("smtpd")
	m.setKey("mail", keyGauges{lastSuccess: 1.7e9 + 0.125, nextRotation: 1.8e9, pendingRevocations: 2, consecutiveFailures: 1,
		keyCreated: math.Inf(1), supersededLastUsed: 1.75e9})
	m.rotationDone("mail", nil, 1500*time.Millisecond)
	m.rotationDone("mail", errors.New("x"), 75*time.Millisecond)
	m.rotationDone("billing", nil, 3*time.Minute)
	m.keepAliveDone("billing", nil)
	m.revocationDone("mail", errors.New("x"))
	m.revocationAtMaxGrace("mail")
	m.emergencyRotation("billing", triggerProvider)
	m.emergencyRotation("mail", triggerOperator)
	m.ReloadDone(true, time.Unix(1_700_000_000, 0))
	m.ObserveRequest("smtpd", "create", "201", 20*time.Millisecond)
}

// scrape serves one /metrics request.
func scrape(t *testing.T, h http.Handler, gz bool) []byte {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	body := rec.Body.Bytes()
	if gz != (rec.Header().Get("Content-Encoding") == "gzip") {
		t.Fatalf("gzip asked %v, Content-Encoding %q", gz, rec.Header().Get("Content-Encoding"))
	}
	if gz {
		r, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body, err = io.ReadAll(r); err != nil {
			t.Fatal(err)
		}
	}
	return body
}

// served gathers what m.Handler(reg) serves, parsed back, so that tests
// can use testutil's Gather* helpers on /metrics itself.
func served(t *testing.T, m *Metrics, reg prometheus.Gatherer) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		parsed, err := parser.TextToMetricFamilies(bytes.NewReader(scrape(t, m.Handler(reg), false)))
		if err != nil {
			return nil, err
		}
		out := make([]*dto.MetricFamily, 0, len(parsed))
		for _, f := range parsed {
			out = append(out, f)
		}
		slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
		return out, nil
	})
}

// keyValue returns a key's series in a per-key family (label: the value
// of the family's label, "" when it has none), or -1 if there is none.
func (m *Metrics) keyValue(family, key, label string) float64 {
	k := m.keys.byNameForTest(key)
	for _, f := range keyFamilies {
		for _, s := range f.series {
			if k != nil && f.name == family && s.value == label {
				return s.get(k)
			}
		}
	}
	return -1
}

func (s *keyStore) byNameForTest(key string) *keyMetrics {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byName[key]
}

// keyGauge returns a key's gauge.
func (m *Metrics) keyGauge(metric, key string) float64 { return m.keyValue(metric, key, "") }

// rotationCount returns a key's rotation count for a result.
func (m *Metrics) rotationCount(key, res string) float64 {
	return m.keyValue("rotator_rotations_total", key, res)
}

// TestMetricsExposition: /metrics serves exactly testdata/metrics.txt for
// the state fillMetrics builds: every family's name, help, type, labels
// and values, which alerts and dashboards rely on, each family once.
func TestMetricsExposition(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	fillMetrics(m)
	srv := httptest.NewServer(m.Handler(reg))
	defer srv.Close()
	want, err := os.Open("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	if err := testutil.ScrapeAndCompare(srv.URL, want); err != nil {
		t.Error(err)
	}
}

// TestMetricsGzip: a gzipped scrape holds the same text as a plain one.
func TestMetricsGzip(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	fillMetrics(m)
	h := m.Handler(reg)
	if plain, gz := scrape(t, h, false), scrape(t, h, true); !bytes.Equal(plain, gz) || len(plain) == 0 {
		t.Errorf("plain and gzipped scrapes differ:\n%s\n---\n%s", plain, gz)
	}
}

// TestMetricsKeysInNameOrder: keys added out of order are served in name
// order, every family.
func TestMetricsKeysInNameOrder(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	for _, k := range []string{"b", "c", "a"} {
		m.InitKey(k, "p")
	}
	var keys []string
	for line := range strings.SplitSeq(string(scrape(t, m.Handler(reg), false)), "\n") {
		if rest, ok := strings.CutPrefix(line, `rotator_key_paused{key="`); ok {
			k, _, _ := strings.Cut(rest, `"`)
			keys = append(keys, k)
		}
	}
	if !slices.Equal(keys, []string{"a", "b", "c"}) {
		t.Errorf("keys served in order %q", keys)
	}
}
