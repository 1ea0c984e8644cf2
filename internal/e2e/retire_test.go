package e2e

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOperatorRetire: a key removed from the policy by a reload is no
// longer rotated and keeps its provider key, listed as unmanaged; `retire`
// refuses a key still in the policy (exit 2), leaves the key while its old
// target still hands it out (exit 1, naming the target), and revokes it
// once the operator removed the secret there (exit 0), with the operator in
// the history; with the daemon stopped the same command acts on the state
// file.
func TestOperatorRetire(t *testing.T) {
	t.Parallel()
	pol := fastPolicy()
	pol.Schedule, pol.Grace = "@every 24h", "1h"
	w := newWorld(t, pol)
	p := w.daemon(t)
	news := currentIDs(t, p)["news"]
	b, err := os.ReadFile(w.config)
	must(t, err)
	without, _, ok := strings.Cut(string(b), "  - name: news\n")
	if !ok || news == "" {
		t.Fatalf("no news key (%q) in\n%s", news, b)
	}
	must(t, os.WriteFile(w.config, []byte(without), 0o600))
	if code, out, logs := w.run(t, nil, "reload", "--config", w.config); code != 0 || !strings.Contains(out, "1 removed [news]") {
		t.Fatalf("reload: exit %d\n%s\n%s", code, out, tail(logs))
	}
	if code, out, _ := w.run(t, nil, "status", "--config", w.config); code != 0 || !strings.Contains(out, "news (unmanaged)") || !strings.Contains(out, news) {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	if code, _, logs := w.run(t, nil, "retire", "mail", "--config", w.config); code != 2 || !strings.Contains(logs, "mail is still in the policy") {
		t.Fatalf("retire of a managed key: exit %d\n%s", code, tail(logs))
	}
	code, out, logs := w.run(t, nil, "retire", "news", "--config", w.config, "--reason", "moved to mail")
	if code != 1 || !strings.Contains(out, "news: FAILED: ") || !strings.Contains(out, "news.json still holds this key") || !strings.Contains(out, "still alive: "+news) {
		t.Fatalf("retire while out/news.json holds the key: exit %d\n%s\n%s", code, out, tail(logs))
	}
	if _, live := w.liveKeys()["emailit/"+news]; !live {
		t.Fatal("the key a sink still hands out was revoked")
	}
	must(t, os.Remove(w.sinkPath("out", "news.json"))) // the consumers moved
	code, out, logs = w.run(t, nil, "retire", "news", "--config", w.config, "--reason", "moved to mail")
	if code != 0 || out != "news: retired, revoked 1 provider key(s): "+news+"\n" {
		t.Fatalf("retire: exit %d\n%s\n%s", code, out, tail(logs))
	}
	if _, live := w.liveKeys()["emailit/"+news]; live {
		t.Error("the retired key is still alive at emailit")
	}
	if _, out, _ := w.run(t, nil, "status", "--config", w.config); strings.Contains(out, "news") {
		t.Errorf("a retired key is still listed:\n%s", out)
	}
	_, hist, _ := w.run(t, nil, "history", "news", "--json", "--config", w.config)
	for _, want := range []string{`"action":"revoked"`, `"action":"retired"`, `"actor":"cli:`, `"note":"moved to mail"`} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %s:\n%s", want, hist)
		}
	}
	if p.exited() {
		t.Fatal("the daemon stopped")
	}
	p.signal(syscall.SIGTERM)
	p.wait(t, 20*time.Second)
	if code, out, logs := w.run(t, nil, "retire", "news", "--config", w.config); code != 0 || out != "news: already retired\n" {
		t.Errorf("retire without a daemon: exit %d\n%s\n%s", code, out, tail(logs))
	}
	if left := w.untracked(t); len(left) != 0 {
		t.Errorf("untracked keys: %v", left)
	}
}
