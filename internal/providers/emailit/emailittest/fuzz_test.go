package emailittest

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"
)

// FuzzRequests sends arbitrary bodies and queries to every endpoint: the
// server answers with a documented status and a JSON body, never panics.
func FuzzRequests(f *testing.F) {
	for _, s := range []string{`{"name":"My API Key","scope":"sending","sending_domain_id":1234567890}`, `{"name":"x","scope":"full"}`,
		`{"name":""}`, `{"name":"x","sending_domain_id":"dom_1"}`, `{"name":5}`, `[]`, `null`, `{`, ``} {
		f.Add(s, "limit=10&page=1")
	}
	f.Add(`{"name":"y"}`, "limit=101")
	f.Add(`{"name":"y"}`, "page=-1&limit=0")
	s := New(Config{Clock: clockwork.NewFakeClockAt(start), RateLimit: NoRateLimit})
	f.Cleanup(s.Close)
	h := s.routes()
	mgmt := s.ManagementKey()
	allowed := map[int]bool{200: true, 201: true, 400: true, 404: true, 409: true, 413: true}
	f.Fuzz(func(t *testing.T, body, query string) {
		for _, c := range []struct{ method, path string }{
			{"POST", "/v2/api-keys"}, {"GET", "/v2/api-keys"}, {"GET", "/v2/api-keys/1234567891"},
			{"POST", "/v2/api-keys/1234567891"}, {"DELETE", "/v2/api-keys/1234567892"}, {"POST", "/v2/emails"},
		} {
			req := httptest.NewRequest(c.method, "http://x"+c.path, strings.NewReader(body))
			req.URL.RawQuery = query
			req.Header.Set("Authorization", "Bearer "+mgmt)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if !allowed[rec.Code] {
				t.Fatalf("%s %s?%s %q: status %d %s", c.method, c.path, query, body, rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("%s %s: content type %q", c.method, c.path, ct)
			}
			if rec.Code >= 400 && strings.Contains(rec.Body.String(), mgmt) {
				t.Fatal("an error body echoes the management key")
			}
		}
	})
}
