package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileBody is a rewrite of a provider's create response.
type hostileBody func(orig map[string]any, raw []byte) io.Reader

// field finds a JSON field case-insensitively (smtpd capitalises create's
// fields, Emailit does not).
func field(m map[string]any, name string) string {
	for k := range m {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}

func mutate(f func(m map[string]any)) hostileBody {
	return func(m map[string]any, _ []byte) io.Reader {
		f(m)
		b, _ := json.Marshal(m)
		return bytes.NewReader(b)
	}
}

// huge is a 50 MB JSON string value, streamed.
type huge struct{ n int }

func (h *huge) Read(p []byte) (int, error) {
	if h.n <= 0 {
		return 0, io.EOF
	}
	for i := range p {
		p[i] = 'a'
	}
	if len(p) > h.n {
		p = p[:h.n]
	}
	h.n -= len(p)
	return len(p), nil
}

// TestHostileProviderResponses answers the real binary's create calls, at
// both providers, with hostile bodies through a proxy in front of the test
// servers (which did create the key). Every rotation must fail with a clear
// error, write nothing to any sink (so no empty credential is ever pushed),
// revoke the key whose secret it could not read, stay within a memory
// bound, and leak nothing; once the provider behaves, the next run rotates.
func TestHostileProviderResponses(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		body hostileBody
		want []string // in the summary, one per provider
	}{
		"a 50 MB body": {body: func(map[string]any, []byte) io.Reader {
			return io.MultiReader(strings.NewReader(`{"id":"x","key":"`), &huge{n: 50 << 20}, strings.NewReader(`"}`))
		}, want: []string{"response body larger than 1048576 bytes"}},
		"invalid JSON": {body: func(_ map[string]any, raw []byte) io.Reader {
			return bytes.NewReader(raw[:len(raw)/2])
		}, want: []string{"create response: invalid JSON at offset", "decode api key: invalid JSON at offset"}},
		"wrong types": {body: mutate(func(m map[string]any) {
			m[field(m, "id")] = map[string]any{"nested": true}
			m[field(m, "key")] = 12345
			if k := field(m, "secret"); m[k] != nil {
				m[k] = []int{1}
			}
		}), want: []string{"create response: unexpected JSON: not a string or number", "an id must be a number or a string"}},
		"an empty key": {body: mutate(func(m map[string]any) { m[field(m, "key")] = "" }),
			want: []string{"create response: ID, Key or Secret missing", "response has no key"}},
		"an empty secret": {body: mutate(func(m map[string]any) {
			if k := field(m, "secret"); m[k] != nil {
				m[k] = "  "
			} else {
				m[field(m, "key")] = " "
			}
		}), want: []string{"the provider returned an empty secret", "the provider returned an empty api_key"}},
		"a missing id": {body: mutate(func(m map[string]any) { delete(m, field(m, "id")) }),
			want: []string{"create response: ID, Key or Secret missing", "response has no key id"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pol := fastPolicy()
			pol.Proxy = true
			w := newWorld(t, pol)
			rewrite := func(resp *http.Response) error {
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var m map[string]any
				_ = json.Unmarshal(raw, &m)
				resp.Body = io.NopCloser(tc.body(m, raw))
				resp.ContentLength = -1
				resp.Header.Del("Content-Length")
				return nil
			}
			rs := smtpdCreate()
			rs.rewrite = rewrite
			re := emailitCreate()
			re.rewrite = rewrite
			rmS, rmE := w.smtpdProxy.add(rs), w.emailitProxy.add(re)

			p := w.start(nil, "--config", w.config, "--run-now")
			st := p.wait(t, 60*time.Second)
			out, logs := p.stdout(), p.logText()
			if st.ExitCode() != 1 {
				t.Errorf("exit %d, want 1\n%s\n%s", st.ExitCode(), out, tail(p.log))
			}
			if strings.Count(out, "FAILED") != 2 || strings.Contains(out, "nothing to do") {
				t.Errorf("want both keys FAILED (and not \"nothing to do\"):\n%s", out)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) || !strings.Contains(logs, want) {
					t.Errorf("the summary and the logs should say %q:\n%s", want, out)
				}
			}
			if w.smtpdProxy.hits(rs) == 0 || w.emailitProxy.hits(re) == 0 {
				t.Fatal("the hostile answer was never given")
			}
			for _, f := range []string{w.sinkPath("out", "mail.json"), w.sinkPath("backup", "mail.env"), w.sinkPath("out", "news.json")} {
				if _, err := os.Stat(f); err == nil {
					b, _ := os.ReadFile(f)
					t.Errorf("%s was written from a hostile response (%d bytes)", f, len(b))
				}
			}
			if u := w.untracked(t); len(u) > 0 {
				t.Errorf("keys created by the hostile creates are left alive: %v", u)
			}
			rmS()
			rmE()
			p = w.start(nil, "--config", w.config, "--run-now")
			st = p.wait(t, 60*time.Second)
			if st.ExitCode() != 0 {
				t.Errorf("once the provider behaves: exit %d, want 0\n%s\n%s", st.ExitCode(), p.stdout(), tail(p.log))
			}
			t.Logf("E2E-FIGURES test=hostile case=%s exit=1 recovered=%v", strconv.Quote(name), st.ExitCode() == 0)
		})
	}
}

// TestHostileBodyMemoryBound answers the daemon's creates with a 50 MB body
// and reads the daemon's peak resident memory (VmHWM) once it has refused
// the body: the body must have been read with a bound, not into memory.
func TestHostileBodyMemoryBound(t *testing.T) {
	t.Parallel()
	pol := fastPolicy()
	pol.Proxy = true
	w := newWorld(t, pol)
	r := smtpdCreate()
	r.rewrite = func(resp *http.Response) error {
		resp.Body.Close()
		resp.Body = io.NopCloser(io.MultiReader(strings.NewReader(`{"ID":"x","Key":"`), &huge{n: 50 << 20}, strings.NewReader(`"}`)))
		resp.ContentLength = -1
		resp.Header.Del("Content-Length")
		return nil
	}
	w.smtpdProxy.add(r)
	p := w.start(nil)
	p.listening(t, 10*time.Second)
	eventually(t, 20*time.Second, "the 50 MB answer is refused", func() bool {
		return strings.Contains(p.logText(), "response body larger than 1048576 bytes")
	})
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	must(t, err)
	var hwm int
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	if hwm == 0 || hwm > 48<<10 {
		t.Errorf("peak resident memory %d KiB after a 50 MB response, want under 48 MiB", hwm)
	}
	p.signal(syscall.SIGTERM)
	p.wait(t, 15*time.Second)
	if u := w.untracked(t); len(u) > 0 {
		t.Errorf("untracked keys: %v", u)
	}
	t.Logf("E2E-FIGURES test=hostile-memory body_mib=50 peak_rss_mib=%d", hwm>>10)
}

// TestHostileResponsesToEveryCall rewrites every answer of both providers
// (logins, lists, gets, tests, revocations, creates) for a while: cut
// JSON, a 50 MB body, JSON null, an HTML error page with status 200. The
// daemon must keep serving, keep the old keys, count the failures, leave
// no key untracked, and recover when the provider behaves again.
func TestHostileResponsesToEveryCall(t *testing.T) {
	t.Parallel()
	pol := fastPolicy()
	pol.Proxy = true
	w := newWorld(t, pol)
	pr := w.startProbe(t)
	p := w.daemon(t)
	bodies := map[string]func(raw []byte) io.Reader{
		"cut JSON":   func(raw []byte) io.Reader { return bytes.NewReader(raw[:len(raw)/2]) },
		"50 MB":      func([]byte) io.Reader { return io.MultiReader(strings.NewReader(`{"a":"`), &huge{n: 50 << 20}) },
		"JSON null":  func([]byte) io.Reader { return strings.NewReader("null") },
		"HTML page":  func([]byte) io.Reader { return strings.NewReader("<html><body>Maintenance</body></html>") },
		"empty body": func([]byte) io.Reader { return strings.NewReader("") },
	}
	for name, body := range bodies {
		rewrite := func(resp *http.Response) error {
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(body(raw))
			resp.ContentLength = -1
			resp.Header.Del("Content-Length")
			return nil
		}
		rs, re := smtpdAny(), emailitAny()
		rs.rewrite, re.rewrite = rewrite, rewrite
		_, m := p.get(t, "/metrics")
		fail0, mail0, news0 := failures(m), successes(m, "mail"), successes(m, "news")
		rmS, rmE := w.smtpdProxy.add(rs), w.emailitProxy.add(re)
		start := time.Now()
		eventually(t, 20*time.Second, name+": failures show", func() bool {
			_, m := p.get(t, "/metrics")
			return failures(m) > fail0
		})
		for time.Since(start) < 4*time.Second && !p.exited() {
			time.Sleep(100 * time.Millisecond) // the fault lasts a while
		}
		rmS()
		rmE()
		if p.exited() {
			t.Fatalf("%s: rotator exited:\n%s", name, tail(p.log))
		}
		eventually(t, 30*time.Second, name+": both keys rotate again", func() bool {
			_, m := p.get(t, "/metrics")
			return successes(m, "mail") > mail0 && successes(m, "news") > news0
		})
		t.Logf("%s on every call: failures counted, recovered in %s", name, time.Since(start).Round(100*time.Millisecond))
	}
	rep := w.stopAndVerify(t, p, pr, 3*time.Second)
	t.Logf("E2E-FIGURES test=hostile-every-call kinds=%d probe_reads=%d outages=%d orphans=%d", len(bodies), rep.reads, len(rep.outages), len(w.untracked(t)))
}
