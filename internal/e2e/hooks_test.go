package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hookReceiver is a consumer's webhook endpoint that verifies each
// request the way docs/consumers.md says to: HMAC-SHA256 of the raw body
// keyed with the secret file's bytes, sent_at fresh, a delivery id not
// seen before.
type hookReceiver struct {
	*httptest.Server
	w   *world
	key []byte

	mu     sync.Mutex
	events []hookEvent
	bad    []string
	seen   map[string]bool
}

type hookEvent struct {
	ID        string    `json:"id"`
	Event     string    `json:"event"`
	Key       string    `json:"key"`
	KeyID     string    `json:"key_id"`
	OldKeyIDs []string  `json:"old_key_ids"`
	Targets   []string  `json:"targets"`
	Time      time.Time `json:"time"`
	SentAt    time.Time `json:"sent_at"`
}

func newHookReceiver(t *testing.T, key []byte) *hookReceiver {
	rc := &hookReceiver{key: key, seen: map[string]bool{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if rc.w != nil {
			rc.w.record("a webhook body", string(body)+"\n"+fmt.Sprint(r.Header))
		}
		mac := hmac.New(sha256.New, rc.key)
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		var e hookEvent
		rc.mu.Lock()
		defer rc.mu.Unlock()
		switch {
		case !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Rotator-Signature"))):
			rc.bad = append(rc.bad, "bad signature on "+string(body))
		case json.Unmarshal(body, &e) != nil:
			rc.bad = append(rc.bad, "not JSON: "+string(body))
		case time.Since(e.SentAt).Abs() > 5*time.Minute || r.Header.Get("X-Rotator-Timestamp") != strconv.FormatInt(e.SentAt.Unix(), 10):
			rc.bad = append(rc.bad, "stale or inconsistent sent_at: "+string(body))
		case rc.seen[e.ID]:
			rc.bad = append(rc.bad, "replayed delivery: "+string(body))
		default:
			rc.seen[e.ID] = true
			rc.events = append(rc.events, e)
			rw.WriteHeader(http.StatusNoContent)
			return
		}
		http.Error(rw, "refused", http.StatusUnauthorized)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// index is the position of the first event of kind ev about key id, or -1.
func (rc *hookReceiver) index(ev, key, id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.IndexFunc(rc.events, func(e hookEvent) bool { return e.Event == ev && e.Key == key && e.KeyID == id })
}

// consumer uses a credential at its provider every 300 ms, as an
// application that was not restarted would.
type consumer struct {
	stop, done chan struct{}
	uses       int
}

func (w *world) consume(t *testing.T, mailKey, mailSecret, newsKey string) *consumer {
	c := &consumer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		hc := &http.Client{Timeout: 2 * time.Second}
		for {
			req, _ := http.NewRequest(http.MethodPost, w.smtpd.URL()+"/oauth/token?grant_type=password", nil)
			req.SetBasicAuth(mailKey, mailSecret)
			if resp, err := hc.Do(req); err == nil {
				resp.Body.Close()
			}
			req, _ = http.NewRequest(http.MethodPost, w.emailit.URL()+"/v2/emails",
				strings.NewReader(`{"from":"a@example.com","to":"b@example.com","subject":"hi"}`))
			req.Header.Set("Authorization", "Bearer "+newsKey)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := hc.Do(req); err == nil {
				resp.Body.Close()
			}
			c.uses++
			select {
			case <-c.stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *consumer) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

func readSink(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var m map[string]string
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// With revoke_when: unused, a consumer that keeps using the old key keeps
// it alive past its grace; once it stops, the key is revoked quiet later.
// A webhook receiver verifies the signature of every event and sees each
// key converge before it is revoked; an exec hook's environment holds the
// event and no secret (the secret search covers both).
func TestUnusedRevocationAndHooks(t *testing.T) {
	hdir := t.TempDir()
	key := []byte("whsec-" + randomHex(16) + "\n")
	must(t, os.WriteFile(filepath.Join(hdir, "hmac"), key, 0o600))
	envLog := filepath.Join(hdir, "hook-env.log")
	must(t, os.WriteFile(filepath.Join(hdir, "envdump.sh"),
		[]byte("#!/bin/sh\n{ env; printf 'arg=%s\\n' \"$@\"; echo ---; } >> \"$1\"\necho \"reloaded $ROTATOR_KEY\"\n"), 0o700))
	rc := newHookReceiver(t, key)

	const quiet = 3 * time.Second
	pol := fastPolicy()
	pol.Schedule, pol.Grace = "@every 15s", "2s"
	pol.Defaults = ", revoke_when: unused, quiet: 3s, max_grace: 5m"
	pol.Hooks = fmt.Sprintf(`hooks:
  notify: {type: webhook, url: %q, secret_file: %q, timeout: 5s}
  envdump: {type: exec, command: %q, args: [%q], timeout: 10s}
`, rc.URL+"/rotator", filepath.Join(hdir, "hmac"), filepath.Join(hdir, "envdump.sh"), envLog)
	pol.KeyHooks = "[{hook: notify, on: [converged, revoked, failed, emergency]}, {hook: envdump, on: [converged, revoked]}]"
	w := newWorld(t, pol)
	rc.w = w
	w.recordFile("the exec hook's environment and arguments", envLog)

	p := w.start(nil)
	p.listening(t, 10*time.Second)
	var mail, news map[string]string
	eventually(t, 20*time.Second, "both keys' first credentials in their sinks", func() bool {
		mail, news = readSink(t, w.sinkPath("out", "mail.json")), readSink(t, w.sinkPath("out", "news.json"))
		return mail != nil && news != nil
	})
	oldMail, oldNews := mail["key_id"], news["key_id"]
	c := w.consume(t, mail["key"], mail["secret"], news["EMAILIT_API_KEY"])

	var superseded time.Time
	eventually(t, 40*time.Second, "both keys rotated", func() bool {
		m, n := readSink(t, w.sinkPath("out", "mail.json")), readSink(t, w.sinkPath("out", "news.json"))
		superseded = time.Now()
		return m != nil && n != nil && m["key_id"] != oldMail && n["key_id"] != oldNews
	})
	// Well past grace (2s) and quiet (3s): still in use, still alive. A
	// duration, not a wait for something: a wrong revocation has its chance.
	time.Sleep(8 * time.Second)
	live := w.liveKeys()
	if live["smtpd/"+oldMail] == "" || live["emailit/"+oldNews] == "" {
		t.Fatalf("an old key in use was revoked %s after it was superseded (grace 2s): live %v\n%s",
			time.Since(superseded).Round(time.Second), live, tail(p.log))
	}
	c.close()
	stopped := time.Now()
	eventually(t, 30*time.Second, "the old keys revoked once unused", func() bool {
		live := w.liveKeys()
		return live["smtpd/"+oldMail] == "" && live["emailit/"+oldNews] == ""
	})
	after := time.Since(stopped)
	// The last use was at most 300 ms before stopped; last use is
	// reported to the second.
	if after < quiet-1300*time.Millisecond {
		t.Errorf("revoked %s after the consumer stopped, before quiet (%s)", after, quiet)
	}
	deadline := time.Now().Add(15 * time.Second)
	for rc.index("revoked", "mail", oldMail) < 0 || rc.index("revoked", "news", oldNews) < 0 {
		if time.Now().After(deadline) {
			rc.mu.Lock()
			t.Fatalf("the webhook was not told of both revocations (%s, %s): got %+v, refused %q\n%s", oldMail, oldNews, rc.events, rc.bad, tail(p.log))
		}
		time.Sleep(50 * time.Millisecond) // the poll interval
	}
	for _, k := range [][2]string{{"mail", oldMail}, {"news", oldNews}} {
		conv, rev := rc.index("converged", k[0], k[1]), rc.index("revoked", k[0], k[1])
		if conv < 0 || rev < conv {
			t.Errorf("%s: converged at %d, revoked at %d: want converged first", k[0], conv, rev)
		}
	}
	p.signal(syscall.SIGTERM)
	p.wait(t, 20*time.Second)

	rc.mu.Lock()
	if len(rc.bad) > 0 {
		t.Errorf("the receiver refused %d requests: %q", len(rc.bad), rc.bad)
	}
	n := len(rc.events)
	rc.mu.Unlock()
	envs, _ := os.ReadFile(envLog)
	for _, want := range []string{"ROTATOR_EVENT=converged", "ROTATOR_EVENT=revoked", "ROTATOR_KEY=mail", "ROTATOR_KEY_ID=" + oldMail} {
		if !bytes.Contains(envs, []byte(want)) {
			t.Errorf("the exec hook's environment lacks %s:\n%s", want, envs)
		}
	}
	if logs := p.logText(); !strings.Contains(logs, "reloaded news") || !strings.Contains(logs, "still in use after its grace") {
		t.Errorf("the log lacks the hook's output or the held revocation:\n%s", tail(p.log))
	}
	t.Logf("E2E-FIGURES test=unused_hooks consumer_uses=%d revoked_after_stop_ms=%d webhook_events=%d", c.uses, after.Milliseconds(), n)
}
