package emailit

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/emailit/emailittest"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// endlessPages answers every list request with a page of items made by
// item and a fresh next_page_url, as a broken or hostile workspace might.
func endlessPages(perPage int, item func(i int64) string) (http.HandlerFunc, *atomic.Int64) {
	var pages atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		p := pages.Add(1)
		items := make([]string, perPage)
		for i := range items {
			items[i] = item(p*int64(perPage) + int64(i))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"data":[%s],"next_page_url":"/v2/api-keys?page=%d&limit=100"}`, strings.Join(items, ","), p+1)
	}, &pages
}

func keyItem(name string, pad int) func(i int64) string {
	return func(i int64) string {
		return fmt.Sprintf(`{"object":"api_key","id":%d,"name":"%s%d","scope":"full","created_at":"2026-11-01T09:00:00Z","note":"%s"}`,
			i, name, i, strings.Repeat("x", pad))
	}
}

func listErr(t *testing.T, e *env) error {
	t.Helper()
	_, err := e.p.List(context.Background(), "rotator-")
	if err == nil {
		t.Fatal("List of an endless list returned no error")
	}
	if providers.ReasonOf(err) != providers.ReasonClient {
		t.Errorf("reason = %s, want client: %v", providers.ReasonOf(err), err)
	}
	return err
}

// TestListStopsFollowingEndlessPages: fresh next_page_urls forever (648
// pages and 1.3 GiB in 25 s before) stop at httpapi.ListMaxPages.
func TestListStopsFollowingEndlessPages(t *testing.T) {
	e := newEnv(t, emailittest.Config{}, nil)
	h, pages := endlessPages(100, keyItem("someone-else-", 0))
	e.srv.ServeWith(emailittest.OpList, h)
	err := listErr(t, e)
	want := fmt.Sprintf("provider emailit: the key list is longer than %d pages", httpapi.ListMaxPages)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if got := pages.Load(); got != httpapi.ListMaxPages {
		t.Errorf("%d pages requested, want %d", got, httpapi.ListMaxPages)
	}
}

// TestListStopsAtTheByteBound: fat pages stop at the byte bound of the
// call (httpapi.ListMaxBytes, 4 MiB here to keep the test quick), long
// before the page bound.
func TestListStopsAtTheByteBound(t *testing.T) {
	e := newEnv(t, emailittest.Config{}, nil)
	e.p.listBytes = 4 << 20
	h, pages := endlessPages(1, keyItem("someone-else-", 900<<10)) // 0.9 MiB a page
	e.srv.ServeWith(emailittest.OpList, h)
	err := listErr(t, e)
	if !strings.Contains(err.Error(), "the key list is longer than 4 MiB over 5 pages") {
		t.Errorf("error: %v", err)
	}
	if got := pages.Load(); got != 5 {
		t.Errorf("%d pages requested, want 5", got)
	}
}

// TestListCapsTheKeysKept: keys carrying the prefix stop at list_max_keys,
// with an error naming the provider and the limit.
func TestListCapsTheKeysKept(t *testing.T) {
	e := newEnv(t, emailittest.Config{}, func(c *Config) { c.ListMaxKeys = 250 })
	h, pages := endlessPages(100, keyItem("rotator-", 0))
	e.srv.ServeWith(emailittest.OpList, h)
	err := listErr(t, e)
	want := `provider emailit lists more than 250 keys named "rotator-"*: raise list_max_keys in providers.emailit`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if got := pages.Load(); got != 3 {
		t.Errorf("%d pages requested, want 3", got)
	}
}
