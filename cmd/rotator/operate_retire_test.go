package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withoutNews rewrites the env's policy without the key news.
func withoutNews(t *testing.T, e *env) {
	t.Helper()
	b, err := os.ReadFile(e.config)
	must(t, err)
	cfg, _, ok := strings.Cut(string(b), "  - name: news\n")
	if !ok {
		t.Fatal("no news key in the policy")
	}
	must(t, os.WriteFile(e.config, []byte(cfg), 0o600))
}

// emailitKey is the one key rotator made at emailit, "" when none.
func emailitKey(e *env) string {
	for _, k := range e.emailit.Keys() {
		if !k.Management {
			return k.ID
		}
	}
	return ""
}

// A key removed from the policy is listed as unmanaged (text and JSON);
// retire refuses a key still in the policy and an unknown one (exit 2),
// leaves a key its old target still holds (exit 1, naming it), and once
// the operator removed the secret there revokes it (exit 0); the key is
// then no longer listed, and the history has the operator's steps.
func TestRetireWithoutDaemon(t *testing.T) {
	e := newEnv(t, "1h")
	if code, out, errs := runCLI(t, "run-now", "--config", e.config); code != exitOK {
		t.Fatalf("run-now: %d %s%s", code, out, errs)
	}
	newsKey := emailitKey(e)
	if newsKey == "" {
		t.Fatal("no news key at emailit")
	}
	withoutNews(t, e)
	code, out, errs := runCLI(t, "retire", "mail", "--config", e.config)
	if code != exitConfig || !strings.Contains(errs, "mail is still in the policy") {
		t.Fatalf("retire of a managed key: %d %s%s", code, out, errs)
	}
	code, _, errs = runCLI(t, "retire", "nwes", "--config", e.config)
	if code != exitConfig || !strings.Contains(errs, `did you mean "news"?`) {
		t.Fatalf("retire of an unknown key: %d %s", code, errs)
	}
	if _, out, _ := runCLI(t, "status", "--config", e.config); !strings.Contains(out, "news (unmanaged)") {
		t.Errorf("status does not list news as unmanaged:\n%s", out)
	}
	_, out, _ = runCLI(t, "status", "--config", e.config, "--json")
	var rows []struct {
		Key     string `json:"key"`
		Managed bool   `json:"managed"`
	}
	must(t, json.Unmarshal([]byte(out), &rows))
	if len(rows) != 2 || rows[1].Key != "news" || rows[1].Managed {
		t.Errorf("status --json: %+v, want news with managed false", rows)
	}
	code, out, errs = runCLI(t, "retire", "news", "--config", e.config, "--reason", "moved")
	if code != exitFailed || !strings.Contains(out, "news: FAILED: ") || !strings.Contains(out, "news.json still holds this key") ||
		!strings.Contains(out, "still alive: "+newsKey) {
		t.Fatalf("retire while the target holds the key: %d %s%s", code, out, errs)
	}
	if emailitKey(e) != newsKey {
		t.Fatal("the key the target holds was revoked")
	}
	must(t, os.Remove(filepath.Join(e.dir, "out", "news.json")))
	code, out, errs = runCLI(t, "retire", "news", "--config", e.config, "--reason", "moved")
	if code != exitOK || out != "news: retired, revoked 1 provider key(s): "+newsKey+"\n" {
		t.Fatalf("retire: %d %q %s", code, out, errs)
	}
	if emailitKey(e) != "" {
		t.Error("the retired key is still active at the provider")
	}
	if _, out, _ := runCLI(t, "status", "--config", e.config); strings.Contains(out, "news") {
		t.Errorf("a retired key is still listed:\n%s", out)
	}
	_, out, _ = runCLI(t, "history", "news", "--config", e.config, "--json")
	if !strings.Contains(out, `"action":"retired"`) || !strings.Contains(out, `"actor":"cli:`) || !strings.Contains(out, `"note":"moved"`) {
		t.Errorf("history lacks the retire:\n%s", out)
	}
	e.assertNoSecret(t, "retire", out)
}
