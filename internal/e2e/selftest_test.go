package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestTheChecksCanFail shows that each check of this package fails when
// what it guards goes wrong: the probe reports a sink holding a revoked
// key, the orphan check reports a key the state does not track, and the
// secret search finds a credential in a log.
func TestTheChecksCanFail(t *testing.T) {
	t.Parallel()
	pol := fastPolicy()
	pol.Grace = "1h"
	w := newWorld(t, pol)
	code, _, logs := w.run(t, nil, "--config", w.config, "--run-now")
	if code != 0 {
		t.Fatalf("run: exit %d\n%s", code, logs)
	}
	pr := w.startProbe(t)
	eventually(t, 5*time.Second, "the probe reads", func() bool { return pr.summary(time.Hour).reads >= 3 })
	if o := pr.summary(time.Hour).outages; len(o) > 0 {
		t.Fatalf("outages before the fault: %v", o)
	}

	// A key revoked behind rotator's back while a sink holds it.
	var cur string
	for _, k := range w.openState(t) {
		if k.Name == "news" {
			cur = k.Current.ID
		}
	}
	if !w.emailit.DeleteKey(cur) {
		t.Fatalf("no emailit key %s", cur)
	}
	eventually(t, 5*time.Second, "the probe reports the outage", func() bool {
		o := pr.summary(time.Hour).outages
		return len(o) > 0 && strings.Contains(o[0], "out/news.json holds key "+cur+", which emailit rejects")
	})

	// A key with a managed key's name that the state does not know.
	orphan := w.emailit.CreateKey("rotator-news-20260101T000000Z-abcdef", "sending")
	if u := w.untracked(t); len(u) != 1 || !strings.Contains(u[0], orphan.ID) {
		t.Errorf("untracked = %v, want the orphan %s", u, orphan.ID)
	}
	w.emailit.DeleteKey(orphan.ID)

	// A credential in a log line.
	w.record("a planted log line", `{"msg":"oops","key":"`+w.emailit.IssuedSecrets()[1]+`"}`)
	if found, _, _ := w.leaks(); len(found) != 1 || !strings.Contains(found[0], "a planted log line") {
		t.Errorf("leaks = %v, want the planted line", found)
	}
	w.mu.Lock()
	w.evidence = w.evidence[:len(w.evidence)-1]
	w.mu.Unlock()
}
