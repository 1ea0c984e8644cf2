package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// proxy sits between rotator and a provider test server and injects the
// faults the servers' own FailNext cannot express: faults that last a span
// of time rather than a number of requests, slow answers, and hostile
// response bodies. It answers injected errors in the provider's own error
// shape, and a failed upstream connection by dropping the client's, as a
// network failure would.
type proxy struct {
	srv     *httptest.Server
	errBody func(status int) []byte

	mu     sync.Mutex
	seen   []string // method, path and time of every request, for failure messages
	rules  []*rule
	counts map[*rule]int
	// late counts the requests held by a `late` rule that have not yet
	// been answered by the upstream (guarded by mu: a WaitGroup must not
	// see Add from zero while Wait runs, and here it would).
	late int
}

// waitLate waits until every request held by a late rule has reached the
// upstream, so that the next fault does not meet a straggler of this one.
func (p *proxy) waitLate() {
	for {
		p.mu.Lock()
		n := p.late
		p.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond) // the poll interval
	}
}

// rule is one fault. A request matches the first rule whose method and
// path match and that has not run out.
type rule struct {
	method string
	path   *regexp.Regexp
	// status answers at once with this status (and the provider's error
	// shape); 0 forwards the request.
	status int
	// retryAfter is sent as Retry-After with the status.
	retryAfter int
	// delay holds the request before it is answered or forwarded.
	delay time.Duration
	// late makes delay hold the request even when the client gave up,
	// and then forward it: a request stuck in the network reaches the
	// provider after the client timed out.
	late bool
	// delayAfter holds the answer of a forwarded request: the request takes
	// effect upstream, the client may time out before it hears so.
	delayAfter time.Duration
	// rewrite replaces a forwarded response (hostile bodies).
	rewrite func(*http.Response) error
	// n is how many requests the rule applies to; 0 means until removed.
	n int
}

func newProxy(t *testing.T, upstream string, errBody func(int) []byte) *proxy {
	u, err := url.Parse(upstream)
	must(t, err)
	p := &proxy{errBody: errBody, counts: map[*rule]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		r, _ := resp.Request.Context().Value(ruleKey{}).(*rule)
		if r == nil {
			return nil
		}
		if r.delayAfter > 0 {
			select {
			case <-time.After(r.delayAfter):
			case <-resp.Request.Context().Done():
			}
		}
		if r.rewrite != nil {
			return r.rewrite(resp)
		}
		return nil
	}
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// The upstream dropped the connection: drop ours too.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ru := p.match(r)
		if ru == nil {
			rp.ServeHTTP(w, r)
			return
		}
		if ru.late {
			defer func() {
				p.mu.Lock()
				p.late--
				p.mu.Unlock()
			}()
			time.Sleep(ru.delay) // the fault itself: the request arrives late
			r = r.WithContext(context.WithoutCancel(r.Context()))
		} else if ru.delay > 0 {
			select {
			case <-time.After(ru.delay):
			case <-r.Context().Done():
				return
			}
		}
		if ru.status != 0 {
			if ru.retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(ru.retryAfter))
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(ru.status)
			w.Write(p.errBody(ru.status))
			return
		}
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ruleKey{}, ru)))
	}))
	t.Cleanup(p.srv.Close)
	return p
}

type ruleKey struct{}

func (p *proxy) URL() string { return p.srv.URL }

func (p *proxy) match(r *http.Request) *rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, time.Now().Format("15:04:05.000")+" "+r.Method+" "+r.URL.Path)
	for _, ru := range p.rules {
		if (ru.method == "" || ru.method == r.Method) && ru.path.MatchString(r.URL.Path) {
			if ru.n > 0 && p.counts[ru] >= ru.n {
				continue
			}
			p.counts[ru]++
			if ru.late {
				p.late++ // under the lock that matched it: waitLate cannot miss it
			}
			return ru
		}
	}
	return nil
}

// add installs a rule and returns the function that removes it.
func (p *proxy) add(r *rule) (remove func()) {
	p.mu.Lock()
	p.rules = append(p.rules, r)
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, x := range p.rules {
			if x == r {
				p.rules = append(p.rules[:i], p.rules[i+1:]...)
				return
			}
		}
	}
}

// hits is how many requests a rule has applied to.
func (p *proxy) hits(r *rule) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[r]
}

// The providers' operations as method and path.
var (
	smtpdCreate = func() *rule { return &rule{method: "POST", path: regexp.MustCompile(`^/api/v1/account/api_key/?$`)} }
	smtpdRevoke = func() *rule {
		return &rule{method: "PUT", path: regexp.MustCompile(`^/api/v1/account/api_key/[^/]+/revoke$`)}
	}
	smtpdList     = func() *rule { return &rule{method: "GET", path: regexp.MustCompile(`^/api/v1/account/api_key/?$`)} }
	smtpdAny      = func() *rule { return &rule{path: regexp.MustCompile(`.`)} }
	emailitCreate = func() *rule { return &rule{method: "POST", path: regexp.MustCompile(`^/v2/api-keys/?$`)} }
	emailitDelete = func() *rule { return &rule{method: "DELETE", path: regexp.MustCompile(`^/v2/api-keys/[^/]+$`)} }
	emailitAny    = func() *rule { return &rule{path: regexp.MustCompile(`.`)} }
)

// smtpdErrorBody is smtpd.dev's error shape.
func smtpdErrorBody(status int) []byte {
	b, _ := json.Marshal(map[string]any{"code": status * 100, "message": http.StatusText(status)})
	return b
}

// emailitErrorBody is Emailit's error shape (429s carry retry_after).
func emailitErrorBody(status int) []byte {
	if status == http.StatusTooManyRequests {
		b, _ := json.Marshal(map[string]any{"error": "Rate limit exceeded", "message": "Too many requests. Limit: 2 requests per second.",
			"limit": 2, "current": 2, "retry_after": 1})
		return b
	}
	b, _ := json.Marshal(map[string]any{"error": http.StatusText(status), "message": http.StatusText(status)})
	return b
}
