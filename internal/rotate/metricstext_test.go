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
	"sort"
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
		keyCreated: math.Inf(1)})
	m.rotationDone("mail", nil, 1500*time.Millisecond)
	m.rotationDone("mail", errors.New("x"), 75*time.Millisecond)
	m.rotationDone("billing", nil, 3*time.Minute)
	m.keepAliveDone("billing", nil)
	m.revocationDone("mail", errors.New("x"))
	m.emergencyRotation("billing")
	m.ObserveRequest("smtpd", "create", "201", 20*time.Millisecond)
}

// textFamilies normalizes families through the text format: encoded,
// parsed and encoded again, one string per family.
func textFamilies(t *testing.T, text []byte) map[string]string {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("the text does not parse: %v\n%s", err, text)
	}
	out := map[string]string{}
	for name, f := range parsed {
		sort.Slice(f.Metric, func(i, j int) bool { return labelsOf(f.Metric[i]) < labelsOf(f.Metric[j]) })
		var b bytes.Buffer
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
		out[name] = b.String()
	}
	return out
}

func labelsOf(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

func gatheredText(t *testing.T, g prometheus.Gatherer) []byte {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, f := range families {
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

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

// TestHandlerServesWhatTheCollectorsWould: /metrics written directly holds
// exactly the families and samples client_golang gathers from the same
// state, once each, plain and gzipped.
func TestHandlerServesWhatTheCollectorsWould(t *testing.T) {
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	a, b := NewMetrics(regA), NewMetrics(regB)
	h := b.Handler(regB)
	fillMetrics(a)
	fillMetrics(b)

	want := textFamilies(t, gatheredText(t, regA))
	for _, gz := range []bool{false, true} {
		got := textFamilies(t, scrape(t, h, gz)) // a family written twice fails to parse
		for name, w := range want {
			if got[name] != w {
				t.Errorf("gzip %v: family %s\n got: %s\nwant: %s", gz, name, got[name], w)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("gzip %v: unexpected family %s", gz, name)
			}
		}
	}
	if len(want) < 15 {
		t.Fatalf("only %d families gathered: the comparison proves little", len(want))
	}
	// The registry alone no longer gathers the per-key families.
	for name := range textFamilies(t, gatheredText(t, regB)) {
		if name == "rotator_rotations_total" || name == "rotator_pending_revocations" {
			t.Errorf("%s is gathered by the registry too", name)
		}
	}
}

// TestMetricsExposition: /metrics serves exactly testdata/metrics.txt for
// the state fillMetrics builds: every family's name, help, type, labels
// and values, which alerts and dashboards rely on.
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
