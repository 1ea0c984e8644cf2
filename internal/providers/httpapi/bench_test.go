package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// BenchmarkDo measures one small JSON round trip on loopback through the
// whole layer (rate limit reservation, request, bounded read, observer).
func BenchmarkDo(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `[{"id":"1","name":"n"}]`)
	}))
	defer srv.Close()
	c, err := httpapi.New(httpapi.Config{BaseURL: srv.URL}, 1e9, providers.Deps{}, decodeErr)
	if err != nil {
		b.Fatal(err)
	}
	req := httpapi.Request{Op: "list", Method: "GET", Path: "/v2/api-keys", Idempotent: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Do(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOversizedBody shows that a 64 MiB response costs about the
// bound (1 MiB), not the body: see B/op.
func BenchmarkOversizedBody(b *testing.B) {
	chunk := strings.Repeat("x", 1<<16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 1024; i++ {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, err := httpapi.New(httpapi.Config{BaseURL: srv.URL, RequestTimeout: 0}, 1e9, providers.Deps{}, decodeErr)
	if err != nil {
		b.Fatal(err)
	}
	req := httpapi.Request{Op: "list", Method: "GET", Path: "/"}
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if _, err := c.Do(ctx, req); err == nil {
			b.Fatal("want a body-too-large error")
		}
		cancel()
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "120", "Wed, 21 Oct 2015 07:28:00 GMT", "1.5", "-3", "", "soon"} {
		f.Add(s)
	}
	now := time.Date(2015, 10, 21, 7, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := httpapi.ParseRetryAfter(v, now)
		if ok && (d < 0 || d > 7*24*time.Hour+time.Second) && !strings.Contains(v, "GMT") {
			t.Fatalf("%q gave %v", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("%q: not ok but %v", v, d)
		}
	})
}
