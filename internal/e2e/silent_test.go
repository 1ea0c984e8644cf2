package e2e

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// A provider that never answers (the fault proxy holds every request to
// smtpd): the rotation fails at its timeout (3s), although request_timeout
// (20s) and the retries would allow minutes, and the error names the
// provider, the request and the timeout that ended it, and nothing else
// (the create was not sent); the other key rotates meanwhile.
func TestSilentProviderFailsAtTheRotationTimeout(t *testing.T) {
	t.Parallel()
	pol := fastPolicy()
	pol.Proxy = true
	pol.Schedule, pol.Timeout, pol.RequestTimeout = "@every 1h", "3s", "20s"
	w := newWorld(t, pol)
	hold := smtpdAny()
	hold.delay = time.Hour
	w.smtpdProxy.add(hold)
	p := w.start(nil)
	p.listening(t, 10*time.Second)
	failed := map[string]string{"key": "mail", "level": "error", "msg": "rotation failed; the key has no current provider key yet"}
	eventually(t, 30*time.Second, "mail's first rotation failed", func() bool { return len(logLines(p.logText(), failed)) > 0 })
	started := logLines(p.logText(), map[string]string{"key": "mail", "msg": "rotation started"})
	if len(started) == 0 {
		t.Fatalf("no rotation started for mail:\n%s", tail(p.log))
	}
	line := logLines(p.logText(), failed)[0]
	t0, err1 := time.Parse(time.RFC3339Nano, fmt.Sprint(started[0]["ts"]))
	t1, err2 := time.Parse(time.RFC3339Nano, fmt.Sprint(line["ts"]))
	if err1 != nil || err2 != nil {
		t.Fatalf("log timestamps: %v, %v", err1, err2)
	}
	took := t1.Sub(t0)
	if took < 2900*time.Millisecond || took > 5*time.Second {
		t.Errorf("the rotation failed %s after it started, want at its timeout (3s)", took)
	}
	// The login before the create timed out: no create was sent, so
	// nothing is said of an unknown outcome or a look-up.
	want := "create key: login: timeout: POST /oauth/token to smtpd: no response before the rotation timeout (3s) reached (context deadline exceeded)"
	if msg := fmt.Sprint(line["error"]); msg != want {
		t.Errorf("the error is\n%s\nwant\n%s", msg, want)
	}
	eventually(t, 20*time.Second, "news rotates meanwhile", func() bool {
		_, m := p.get(t, "/metrics")
		return successes(m, "news") >= 1
	})
	p.signal(syscall.SIGTERM)
	if st := p.wait(t, 20*time.Second); st.ExitCode() != 0 {
		t.Errorf("SIGTERM: exit %s, want 0:\n%s", st, tail(p.log))
	}
	t.Logf("E2E-FIGURES test=silent_provider rotation_timeout_ms=3000 failed_after_ms=%d", took.Milliseconds())
}
