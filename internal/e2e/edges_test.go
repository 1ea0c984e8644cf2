package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers/emailit/emailittest"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
)

// The hostile-provider suite's findings 6-8 of the hardening issue, with
// the real binary: a Vault that redirects to another origin, provider
// error messages that quote the management credential or carry terminal
// escapes, and key lists without end.

// vmHWM is a process's peak resident memory, in KiB (0 when unreadable).
func vmHWM(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// secretParts searches every text the world recorded (logs, stdout,
// /metrics, /status, --status, the state file) for each secret whole, for
// its every prefix of 8 bytes or more (what a cut before scrubbing leaves)
// and for its suffixes of 12 bytes or more.
func (w *world) secretParts(t *testing.T, secrets ...string) {
	t.Helper()
	w.recordFile("the state file", w.statePath())
	w.mu.Lock()
	ev := append([]evidence(nil), w.evidence...)
	w.mu.Unlock()
	for _, e := range ev {
		text := e.text()
		for _, s := range secrets {
			for n := len(s); n >= 8; n-- {
				if strings.Contains(text, s[:n]) {
					t.Errorf("the first %d of %d bytes of a credential appear in %s", n, len(s), e.where)
					break
				}
				if n >= 12 && strings.Contains(text, s[len(s)-n:]) {
					t.Errorf("the last %d of %d bytes of a credential appear in %s", n, len(s), e.where)
					break
				}
			}
		}
	}
}

// TestHostileErrorMessages (finding 7): the providers answer create with
// a 400 whose message quotes the management credential at bytes 262 to
// 299 (where a cut at 300 before scrubbing kept its first bytes), or
// carries terminal escape sequences. Rotations fail visibly; no part of
// either credential reaches any output, and no escape reaches --status or
// /status.
func TestHostileErrorMessages(t *testing.T) {
	t.Parallel()
	w := newWorld(t, fastPolicy())
	p := w.daemon(t)
	const escapes = "\x1b[2J\x1b[H\x1b]0;owned\x07\u009b31m\u202edesrever"
	messages := func(secret string) []string {
		msgs := []string{"key refused: " + escapes}
		for off := 298; off >= 262; off -= 4 { // the last one is shown whole
			msgs = append(msgs, strings.Repeat("x", off)+secret+" was given")
		}
		return msgs
	}
	serve := func(msgs []string, body func(msg string) any) (http.HandlerFunc, *atomic.Int64) {
		var n atomic.Int64
		return func(rw http.ResponseWriter, _ *http.Request) {
			i := int(n.Add(1)) - 1
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(rw).Encode(body(msgs[min(i, len(msgs)-1)]))
		}, &n
	}
	sMsgs, eMsgs := messages(w.smtpd.Password()), messages(w.emailit.ManagementKey())
	hs, ns := serve(sMsgs, func(m string) any { return map[string]any{"code": 40000, "message": m} })
	he, ne := serve(eMsgs, func(m string) any { return map[string]any{"error": "Bad Request", "message": m} })
	_, m := p.get(t, "/metrics")
	fail0 := failures(m)
	w.smtpd.ServeWith(smtpdtest.OpCreate, hs)
	w.emailit.ServeWith(emailittest.OpCreate, he)
	eventually(t, 90*time.Second, "every hostile message is given", func() bool {
		return ns.Load() >= int64(len(sMsgs)) && ne.Load() >= int64(len(eMsgs))
	})
	_, m = p.get(t, "/metrics")
	if failures(m) <= fail0 {
		t.Errorf("the refused creates are not counted as failures")
	}
	_, status := p.get(t, "/status")
	hwm := vmHWM(p.cmd.Process.Pid)
	code, live, _ := w.run(t, nil, "--config", w.config, "--status", "--listen", p.listening(t, time.Second))
	if code != 0 {
		t.Errorf("--status while the daemon runs: exit %d\n%s", code, live)
	}
	p.signal(syscall.SIGTERM)
	p.wait(t, 20*time.Second)
	_, offline, _ := w.run(t, nil, "--config", w.config, "--status")
	for where, text := range map[string]string{"/status": status, "--status (daemon)": live, "--status (state file)": offline} {
		if strings.ContainsAny(text, "\x1b\x07\u009b\u202e") || strings.Contains(text, `\u001b`) {
			t.Errorf("%s carries a terminal control sequence: %q", where, text)
		}
		if !strings.Contains(text, "redacted") { // JSON writes < as \u003c
			t.Errorf("%s does not show the provider's message (redacted): %s", where, text)
		}
	}
	for _, k := range w.openState(t) {
		if !strings.Contains(k.LastError, "<redacted>") {
			t.Errorf("%s: last error %q, want the provider's message, redacted", k.Name, k.LastError)
		}
	}
	for _, f := range []string{p.log, p.out} {
		if b, _ := os.ReadFile(f); strings.ContainsAny(string(b), "\x1b\u009b") {
			t.Errorf("%s carries a raw escape", filepath.Base(f))
		}
	}
	w.secretParts(t, w.smtpd.Password(), w.emailit.ManagementKey())
	if u := w.untracked(t); len(u) > 0 {
		t.Errorf("untracked keys: %v", u)
	}
	t.Logf("E2E-FIGURES test=hostile-messages messages=%d offsets=262-298 peak_rss_mib=%.1f", ns.Load()+ne.Load(), float64(hwm)/1024)
}

// TestHostileKeyLists (finding 8): the orphan scan (a minute after start)
// meets smtpd.dev's key list as 62 MiB of tiny items, or Emailit's
// next_page_url without end (small pages: the page bound; fat pages: the
// byte bound). The daemon's peak resident memory stays under 64 MiB, the
// scan fails with an error that names the provider and the bound, and the
// daemon keeps running and rotating.
func TestHostileKeyLists(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		serve   func(w *world)
		timeout string // request_timeout: the whole list must arrive within it
		want    string
	}{
		"smtpd 62 MiB of tiny items": {serve: func(w *world) {
			w.smtpd.ServeWith(smtpdtest.OpList, tinyItems(62<<20, 52_000))
		}, timeout: "60s", want: `provider smtpd lists more than 50000 keys named "rotator-"*: raise list_max_keys in providers.smtpd`},
		"emailit endless small pages": {serve: func(w *world) {
			w.emailit.ServeWith(emailittest.OpList, endlessPages(100, 0))
		}, want: "provider emailit: the key list is longer than 1000 pages"},
		"emailit endless fat pages": {serve: func(w *world) {
			w.emailit.ServeWith(emailittest.OpList, endlessPages(100, 9000))
		}, want: "provider emailit: the key list is longer than 64 MiB over"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pol := fastPolicy()
			if tc.timeout != "" {
				pol.RequestTimeout = tc.timeout
			}
			w := newWorld(t, pol)
			tc.serve(w)
			p := w.daemon(t)
			deadline := time.Now().Add(150 * time.Second)
			inLog, _ := json.Marshal(tc.want) // the log is JSON
			for !strings.Contains(p.logText(), strings.Trim(string(inLog), `"`)) {
				if p.exited() || time.Now().After(deadline) {
					t.Fatalf("no failed orphan scan saying %q (exited: %v):\n%s", tc.want, p.exited(), tail(p.log))
				}
				time.Sleep(100 * time.Millisecond) // the poll interval
			}
			if !strings.Contains(p.logText(), `"msg":"orphan scan failed"`) {
				t.Errorf("the log does not say the orphan scan failed:\n%s", tail(p.log))
			}
			_, m := p.get(t, "/metrics")
			mail0, news0 := successes(m, "mail"), successes(m, "news")
			eventually(t, 30*time.Second, "both keys rotate after the failed scan", func() bool {
				_, m := p.get(t, "/metrics")
				return successes(m, "mail") > mail0 && successes(m, "news") > news0
			})
			hwm := vmHWM(p.cmd.Process.Pid)
			if hwm == 0 || hwm > 64<<10 {
				t.Errorf("peak resident memory %d KiB, want under 64 MiB", hwm)
			}
			p.signal(syscall.SIGTERM)
			if st := p.wait(t, 20*time.Second); st.ExitCode() != 0 {
				t.Errorf("SIGTERM: exit %s, want 0", st)
			}
			if u := w.untracked(t); len(u) > 0 {
				t.Errorf("untracked keys: %v", u)
			}
			t.Logf("E2E-FIGURES test=hostile-list case=%s peak_rss_mib=%.1f", strconv.Quote(name), float64(hwm)/1024)
		})
	}
}

// tinyItems answers smtpd.dev's key list with size bytes of tiny items,
// written as they go; matching of them, spread over the list, carry the
// name prefix.
func tinyItems(size, matching int) http.HandlerFunc {
	item := func(i int, name string) string { return fmt.Sprintf(`{"id":"%08d","name":"%s-%08d"}`, i, name, i) }
	n := size / (len(item(0, "other")) + 1)
	stride := n / matching
	return func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriterSize(rw, 64<<10)
		_ = bw.WriteByte('[')
		for i := 0; i < n; i++ {
			if i > 0 {
				_ = bw.WriteByte(',')
			}
			name := "other"
			if i%stride == 0 {
				name = "rotator"
			}
			if _, err := bw.WriteString(item(i, name)); err != nil {
				return // the client stopped reading
			}
		}
		_ = bw.WriteByte(']')
		_ = bw.Flush()
	}
}

// endlessPages answers Emailit's key list with pages of perPage keys of
// other names (each with a pad-byte note) and a fresh next_page_url, for
// ever.
func endlessPages(perPage, pad int) http.HandlerFunc {
	var pages atomic.Int64
	note := strings.Repeat("x", pad)
	return func(rw http.ResponseWriter, _ *http.Request) {
		pg := pages.Add(1)
		rw.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriterSize(rw, 64<<10)
		_, _ = bw.WriteString(`{"data":[`)
		for i := range perPage {
			if i > 0 {
				_ = bw.WriteByte(',')
			}
			fmt.Fprintf(bw, `{"object":"api_key","id":%d,"name":"someone-else-%d","scope":"full","created_at":"2026-11-01T09:00:00Z","note":%q}`,
				pg*int64(perPage)+int64(i), i, note)
		}
		fmt.Fprintf(bw, `],"next_page_url":"/v2/api-keys?page=%d&limit=100"}`, pg+1)
		_ = bw.Flush()
	}
}
