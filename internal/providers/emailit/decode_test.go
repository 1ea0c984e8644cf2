package emailit

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The examples of Emailit's API documentation (API keys, errors).
const (
	docCreate = `{"object":"api_key","id":1234567890,"name":"My API Key","scope":"sending","sending_domain_id":1234567890,"last_used_at":null,"created_at":"2021-01-01T00:00:00Z","updated_at":"2021-01-01T00:00:00Z","key":"em_live_51RxCWJ...vS00p61e0qRE"}`
	docGet    = `{"object":"api_key","id":1234567890,"name":"My API Key","scope":"sending","sending_domain_id":1234567890,"last_used_at":"2021-01-01T12:00:00Z","created_at":"2021-01-01T00:00:00Z","updated_at":"2021-01-01T00:00:00Z"}`
	docList   = `{"data":[{"id":1234567890,"name":"My API Key","scope":"sending","sending_domain_id":1234567890,"last_used_at":"2021-01-01T12:00:00Z","created_at":"2021-01-01T00:00:00Z","updated_at":"2021-01-01T00:00:00Z"},{"id":1234567891,"name":"Another API Key","scope":"full","sending_domain_id":null,"last_used_at":null,"created_at":"2021-01-02T00:00:00Z","updated_at":"2021-01-02T00:00:00Z"}],"next_page_url":"https://api.emailit.com/v2/api-keys?page=2&limit=10","previous_page_url":null}`
	docDelete = `{"object":"api_key","id":1234567890,"name":"My API Key","deleted":true}`
	doc400    = `{"error":{"code":400,"message":"Bad Request"}}`
	doc404    = `{"error":{"code":404,"message":"API key not found"}}`
	doc409    = `{"error":{"code":409,"message":"API key already exists"},"existing":{"object":"api_key","id":1234567890,"name":"My API Key"}}`
	doc401    = `{"statusCode":401,"error":"Unauthorized","message":"API key required"}`
	doc429    = `{"error":"Rate limit exceeded","message":"Too many requests","limit":2,"current":2,"retry_after":1}`
	docDaily  = `{"error":"Daily limit exceeded","message":"Daily sending limit reached","limit":5000,"current":5000,"retry_after":3600}`
	docPlan   = `{"statusCode":403,"error":"plan_required","message":"Upgrade your plan to use events"}`
	docValid  = `{"statusCode":400,"error":"Bad Request","message":"Validation failed","details":[{"field":"name","message":"The name field is required."}]}`
)

// Tolerant variants seen in production by third-party clients and in the
// newer docs.
var (
	variantKeys = []string{
		`{"object":"api_key","id":"ak_123","name":"k","scope":"sending","sending_domain_id":"dom_abc","last_used_at":"2026-10-01 08:30:00","created_at":1759300000,"updated_at":"1759300000","key":"secret_abcdefghijklmnopqrstuvwxyz123456"}`,
		`{"id":"1234567890","name":"k","last_used_at":1759300000123,"created_at":"2026-10-01T08:30:00.123456+02:00","deleted":"1"}`,
		`{"data":{"id":5,"name":"wrapped","created_at":"2026-10-01","deleted":1}}`,
		`{"id":1.23456789e9,"name":12,"last_used_at":"0000-00-00 00:00:00","created_at":0,"deleted":0}`,
	}
	variantErrors = []string{
		`{"error":"Unauthorized","message":"Invalid API key secret_abcdefghijklmnopqrstuvwxyz123456"}`,
		`{"error":{"code":"rate_limited","message":"slow down"},"retry_after":"2.5"}`,
		`{"statusCode":"422","error":"Unprocessable Entity","details":{"scope":["is invalid","must be full or sending"]}}`,
		`{"message":"Bearer em_live_abc.def rejected","details":"no"}`,
		`<html><body>502 Bad Gateway</body></html>`,
		``,
		`{"error":null,"message":{"en":"nested"}}`,
	}
)

func TestDecodeKeyDocExamples(t *testing.T) {
	o, err := decodeKey([]byte(docCreate))
	if err != nil {
		t.Fatal(err)
	}
	if o.ID != "1234567890" || o.Name != "My API Key" || o.Scope != "sending" || o.SendingDomainID != "1234567890" {
		t.Fatalf("create: %+v", o)
	}
	if o.Key != "em_live_51RxCWJ...vS00p61e0qRE" || !o.LastUsedAt.Time().IsZero() {
		t.Fatalf("create key/last_used_at: %+v", o)
	}
	if got, want := o.CreatedAt.Time(), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("created_at = %v, want %v", got, want)
	}

	o, err = decodeKey([]byte(docGet))
	if err != nil {
		t.Fatal(err)
	}
	info := o.info()
	if got, want := info.LastUsedAt, time.Date(2021, 1, 1, 12, 0, 0, 0, time.UTC); !got.Equal(want) || !info.Active {
		t.Fatalf("get: %+v", info)
	}
	if o.Key != "" {
		t.Fatal("get has a key")
	}

	o, err = decodeKey([]byte(docDelete))
	if err != nil || o.Deleted == nil || !bool(*o.Deleted) {
		t.Fatalf("delete: %+v %v", o, err)
	}
	if _, err := decodeKey([]byte(`{"name":"x"}`)); err == nil {
		t.Fatal("a key without id decoded")
	}
}

func TestDecodeKeyVariants(t *testing.T) {
	want := []struct {
		id, name        string
		lastUsed, creat time.Time
		deleted         *bool
	}{
		{"ak_123", "k", time.Date(2026, 10, 1, 8, 30, 0, 0, time.UTC), time.Unix(1759300000, 0).UTC(), nil},
		{"1234567890", "k", time.UnixMilli(1759300000123).UTC(), time.Date(2026, 10, 1, 6, 30, 0, 123456000, time.UTC), ptr(true)},
		{"5", "wrapped", time.Time{}, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), ptr(true)},
		{"1234567890", "12", time.Time{}, time.Time{}, ptr(false)},
	}
	for i, body := range variantKeys {
		o, err := decodeKey([]byte(body))
		if err != nil {
			t.Fatalf("variant %d: %v", i, err)
		}
		w := want[i]
		if string(o.ID) != w.id || string(o.Name) != w.name || !o.LastUsedAt.Time().Equal(w.lastUsed) || !o.CreatedAt.Time().Equal(w.creat) {
			t.Errorf("variant %d: id %q name %q last_used %v created %v, want %+v", i, o.ID, o.Name, o.LastUsedAt.Time(), o.CreatedAt.Time(), w)
		}
		if (o.Deleted == nil) != (w.deleted == nil) || o.Deleted != nil && bool(*o.Deleted) != *w.deleted {
			t.Errorf("variant %d: deleted %v, want %v", i, o.Deleted, w.deleted)
		}
	}
	for _, bad := range []string{`{"id":{"x":1}}`, `{"id":1,"created_at":"yesterday"}`, `{"id":1,"deleted":"maybe"}`, `[1]`, `nope`} {
		if _, err := decodeKey([]byte(bad)); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestDecodeList(t *testing.T) {
	p, err := decodeList([]byte(docList))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Data) != 2 || p.Data[1].ID != "1234567891" || p.NextPageURL != "https://api.emailit.com/v2/api-keys?page=2&limit=10" {
		t.Fatalf("doc list: %+v", p)
	}
	p, err = decodeList([]byte(`{"data":[{"id":"ak_1","name":"x"}],"next_page_url":"/v2/api-keys?page=3&limit=100"}`))
	if err != nil || p.NextPageURL != "/v2/api-keys?page=3&limit=100" {
		t.Fatalf("path style: %+v %v", p, err)
	}
	p, err = decodeList([]byte(`{"data":null,"next_page_url":""}`))
	if err != nil || len(p.Data) != 0 || p.NextPageURL != "" {
		t.Fatalf("empty: %+v %v", p, err)
	}
	for _, bad := range []string{`{}`, `{"data":{}}`, `{"data":[{"name":"no id"}]}`, `[]`} {
		if _, err := decodeList([]byte(bad)); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

func TestDecodeError(t *testing.T) {
	for _, c := range []struct {
		body       string
		code, msg  string
		retryAfter time.Duration
	}{
		{doc400, "400", "Bad Request", 0},
		{doc404, "404", "API key not found", 0},
		{doc409, "409", "API key already exists", 0},
		{doc401, "", "Unauthorized: API key required", 0},
		{doc429, "", "Rate limit exceeded: Too many requests", time.Second},
		{docDaily, "", "Daily limit exceeded: Daily sending limit reached", time.Hour},
		{docPlan, "plan_required", "Upgrade your plan to use events", 0},
		{docValid, "", "Bad Request: Validation failed (name: The name field is required.)", 0},
		{variantErrors[0], "", "Unauthorized: Invalid API key <redacted>", 0},
		{variantErrors[1], "rate_limited", "slow down", 2500 * time.Millisecond},
		{variantErrors[2], "", "Unprocessable Entity (scope: is invalid, must be full or sending)", 0},
		{variantErrors[3], "", "<redacted> rejected (no)", 0},
		{variantErrors[4], "", "<html><body>502 Bad Gateway</body></html>", 0},
		{variantErrors[5], "", "", 0},
		{variantErrors[6], "", `{"en":"nested"}`, 0},
		{`{"retry_after":-1}`, "", "", 0},
		{`{"retry_after":1e12}`, "", "", maxRetryAfter},
	} {
		code, msg, ra := decodeError(400, []byte(c.body))
		if code != c.code || msg != c.msg || ra != c.retryAfter {
			t.Errorf("%s:\n got %q, %q, %v\nwant %q, %q, %v", c.body, code, msg, ra, c.code, c.msg, c.retryAfter)
		}
	}
	long := `{"message":"` + strings.Repeat("é", 5000) + `"}`
	if _, msg, _ := decodeError(400, []byte(long)); len(msg) > maxMessage+len("…") || !utf8.ValidString(msg) {
		t.Fatalf("long message not bounded: %d bytes", len(msg))
	}
}

// Fuzz targets: no decoder panics, none lets a key-shaped string through
// into an error or a message, and what decodes has its invariants.

var keyShaped = []string{"secret_abcdefghijklmnopqrstuvwxyz123456", "em_live_abc"}

func seedAll(f *testing.F, extra ...string) {
	for _, s := range append([]string{docCreate, docGet, docList, docDelete, doc400, doc404, doc409, doc401, doc429, docDaily, docPlan, docValid}, extra...) {
		f.Add([]byte(s))
	}
	for _, s := range variantKeys {
		f.Add([]byte(s))
	}
	for _, s := range variantErrors {
		f.Add([]byte(s))
	}
}

func FuzzDecodeKey(f *testing.F) {
	seedAll(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := decodeKey(body)
		if err != nil {
			noSecret(t, err.Error())
			return
		}
		if o.ID == "" {
			t.Fatal("decoded a key without id")
		}
	})
}

func FuzzDecodeList(f *testing.F) {
	seedAll(f, `{"data":[],"next_page_url":null}`, `{"data":[{"id":"1","name":"a"},{"id":2,"name":"b"}],"next_page_url":"/v2/api-keys?page=2"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeList(body)
		if err != nil {
			noSecret(t, err.Error())
			return
		}
		for _, o := range p.Data {
			if o.ID == "" {
				t.Fatal("decoded a list item without id")
			}
		}
	})
}

func FuzzDecodeError(f *testing.F) {
	seedAll(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		code, msg, ra := decodeError(429, body)
		noSecret(t, code)
		noSecret(t, msg)
		if ra < 0 || ra > maxRetryAfter {
			t.Fatalf("retry_after %v out of range", ra)
		}
		if len(msg) > maxMessage+3 || !utf8.ValidString(msg) || !utf8.ValidString(code) {
			t.Fatalf("message not bounded or not UTF-8: %q", msg)
		}
	})
}

func FuzzNextPath(f *testing.F) {
	for _, s := range []string{"https://api.emailit.com/v2/api-keys?page=2&limit=10", "/v2/api-keys?page=3&limit=100", "?page=2", "v2/api-keys?page=2", "https://evil.example/steal?page=2", "//evil.example/x", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		p, err := nextPath(next)
		if err != nil {
			return
		}
		u, err := url.Parse(p)
		if err != nil {
			t.Fatalf("nextPath(%q) = %q, not a URL: %v", next, p, err)
		}
		if u.Host != "" || u.Scheme != "" {
			t.Fatalf("nextPath(%q) = %q keeps a host", next, p)
		}
	})
}

func noSecret(t *testing.T, s string) {
	t.Helper()
	for _, k := range keyShaped {
		if strings.Contains(s, k) {
			t.Fatalf("%q contains a key", s)
		}
	}
}

func TestDecodeErrorsNameNoValue(t *testing.T) {
	for body, want := range map[string]string{
		`{"id":1,"created_at":"secret_abcdefghijklmnopqrstuvwxyz123456"}`: "decode api key: unrecognised timestamp format",
		`{"id":1,"key":{"v":"secret_abcdefghijklmnopqrstuvwxyz123456"}}`:  "decode api key: not a string or number",
		`{"id":[1]}`: "decode api key: an id must be a number or a string",
	} {
		_, err := decodeKey([]byte(body))
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", body, err, want)
		}
	}
}
