package smtpd_test

import (
	"bufio"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
)

// streamList answers the key list with an array of n items made by item,
// written as it goes (the server holds none of it).
func streamList(n int, item func(i int) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriterSize(w, 64<<10)
		_, _ = bw.WriteString("[")
		for i := 0; i < n; i++ {
			if i > 0 {
				_ = bw.WriteByte(',')
			}
			if _, err := bw.WriteString(item(i)); err != nil {
				return // the client stopped reading
			}
		}
		_, _ = bw.WriteString("]")
		_ = bw.Flush()
	}
}

// item is a list item as smtpd.dev writes one (~350 bytes).
func item(i int, name string) string {
	return fmt.Sprintf(`{"id":"8a1c2f4e-0000-4000-8000-%012d","account_id":"0c5e7c1a-1111-4000-8000-000000000001",`+
		`"name":%q,"key":"k%031d","is_active":true,"last_accessed_at_utc":1827618270,`+
		`"created_at_utc":1627618270,"modified_at_utc":1627618270,"role":"standard","description":"%s"}`,
		i, name, i, strings.Repeat("x", 60))
}

// peakHeap runs f while sampling the heap in use, and returns f's error
// and the highest heap in use above the level before f.
func peakHeap(f func() error) (uint64, error) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	err := f()
	close(stop)
	<-done
	if p := peak.Load(); p > base {
		return p - base, err
	}
	return 0, err
}

// TestListOfSixtyMiBStaysSmall: a 60 MiB key list (smtpd.dev does not
// paginate) is decoded while it arrives and only the keys named prefix*
// are kept, so the heap grows by a few MiB, not by the body (the whole
// body was read, then unmarshalled: 62 MiB of tiny items peaked at
// 1.6 GiB).
func TestListOfSixtyMiBStaysSmall(t *testing.T) {
	e := newEnv(t, envOpt{})
	const size = 60 << 20
	n := size / len(item(0, "other-key-000000"))
	e.srv.ServeWith(smtpdtest.OpList, streamList(n, func(i int) string {
		if i%10000 == 0 {
			return item(i, fmt.Sprintf("rotator-mail-%06d", i))
		}
		return item(i, fmt.Sprintf("other-key-%06d", i))
	}))
	var got []providers.KeyInfo
	peak, err := peakHeap(func() (err error) {
		got, err = e.p.List(ctx, "rotator-")
		return err
	})
	if err != nil {
		t.Fatalf("peakHeap: %v", err)
	}
	if len(got) != (n+9999)/10000 {
		t.Fatalf("len(got) = %d, want %d: %+v", len(got), (n+9999)/10000, got)
	}
	t.Logf("%d items, 60 MiB: heap in use rose by %.1f MiB at most", n, float64(peak)/(1<<20))
	if peak >= uint64(16<<20) {
		t.Fatalf("heap in use rose by %d MiB: got %v, want less than %v", peak>>20, peak, uint64(16<<20))
	}
}

// TestListCapsTheKeysKept: an endless list of keys carrying the prefix
// stops at list_max_keys with an error naming the provider and the limit.
func TestListCapsTheKeysKept(t *testing.T) {
	e := newEnv(t, envOpt{listMaxKeys: 1000})
	e.srv.ServeWith(smtpdtest.OpList, streamList(1<<30, func(i int) string {
		return fmt.Sprintf(`{"id":"%d","name":"rotator-%d"}`, i, i)
	}))
	_, err := e.p.List(ctx, "rotator-")
	if err == nil {
		t.Fatalf("e.p.List: got no error, want one")
	}
	if got := providers.ReasonOf(err); got != providers.ReasonClient {
		t.Fatalf("providers.ReasonOf(err) = %q, want %q", got, providers.ReasonClient)
	}
	if got := err.Error(); !strings.Contains(got, `provider smtpd-test lists more than 1000 keys named "rotator-"*: raise list_max_keys in providers.smtpd-test`) {
		t.Fatalf("got %q, want it to contain %q", got, `provider smtpd-test lists more than 1000 keys named "rotator-"*: raise list_max_keys in providers.smtpd-test`)
	}

	// At the default limit, what is kept stays small too.
	e = newEnv(t, envOpt{})
	e.srv.ServeWith(smtpdtest.OpList, streamList(1<<30, func(i int) string {
		return fmt.Sprintf(`{"id":"%d","name":"rotator-%d"}`, i, i)
	}))
	peak, err := peakHeap(func() error { _, err := e.p.List(ctx, "rotator-"); return err })
	if err == nil || !strings.Contains(err.Error(), "lists more than 50000 keys") {
		t.Fatalf("peakHeap: got error %v, want one containing %q", err, "lists more than 50000 keys")
	}
	t.Logf("default limit: heap in use rose by %.1f MiB at most", float64(peak)/(1<<20))
	if peak >= uint64(32<<20) {
		t.Fatalf("peak = %v, want less than %v", peak, uint64(32<<20))
	}
}

// TestListRefusesAHugeValue: one value larger than any key (a 20 MiB
// name) is refused before it is held whole.
func TestListRefusesAHugeValue(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.srv.ServeWith(smtpdtest.OpList, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`[{"id":"1","name":"`))
		chunk := []byte(strings.Repeat("a", 64<<10))
		for i := 0; i < 320; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`"}]`))
	})
	peak, err := peakHeap(func() error { _, err := e.p.List(ctx, ""); return err })
	if err == nil {
		t.Fatalf("peakHeap: got no error, want one")
	}
	if got := err.Error(); !strings.Contains(got, "list response: a value is larger than 65536 bytes") {
		t.Fatalf("got %q, want it to contain %q", got, "list response: a value is larger than 65536 bytes")
	}
	if peak >= uint64(8<<20) {
		t.Fatalf("peak = %v, want less than %v", peak, uint64(8<<20))
	}
}

// TestListOfBrokenJSON: the decoder's errors name an offset, never the
// body.
func TestListOfBrokenJSON(t *testing.T) {
	e := newEnv(t, envOpt{})
	for body, want := range map[string]string{
		`[{"id":"1","name":"secret-ish"},`:             "list response: the JSON ends early",
		`[{"id":"1","name":"secret-ish"} x]`:           "list response: invalid JSON at offset",
		`{"meta":{"n":1},"data":[{"id":"1"}],"x":"y"}`: "",
		`{"meta":1}`:              "list response: no data array",
		`"secret-ish"`:            "list response: not an array",
		`[{"name":"secret-ish"}]`: "list response: item 0 has no id",
	} {
		e.srv.ServeWith(smtpdtest.OpList, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) })
		_, err := e.p.List(ctx, "")
		if want == "" {
			if err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: got error %v, want one containing %q", body, err, want)
		}
		if got := err.Error(); strings.Contains(got, "secret-ish") {
			t.Fatalf("got %q, want it not to contain %q", got, "secret-ish")
		}
	}
}
