package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// revokeAtSmtpd revokes a key through the API with the management login,
// as an administrator would in the dashboard.
func revokeAtSmtpd(t *testing.T, w *world, id string) {
	t.Helper()
	req, _ := http.NewRequest("POST", w.smtpd.URL()+"/oauth/token?grant_type=password", nil)
	req.SetBasicAuth(w.smtpd.Username(), w.smtpd.Password())
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	must(t, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	req, _ = http.NewRequest("PUT", w.smtpd.URL()+"/api/v1/account/api_key/"+id+"/revoke", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("revoke %s at smtpd: %s", id, resp.Status)
	}
}

// TestCurrentKeyRevokedBehindOurBack revokes both current keys at the
// providers while the daemon runs (an administrator, or a provider's
// inactivity rule): consumers break, which rotator cannot prevent, but the
// next keep-alive must notice and rotate at once, well before the
// schedule, and count it as an emergency.
func TestCurrentKeyRevokedBehindOurBack(t *testing.T) {
	t.Parallel()
	pol := fastPolicy()
	pol.Schedule = "@every 24h" // only an emergency rotates within the test
	w := newWorld(t, pol)
	pr := w.startProbe(t)
	p := w.daemon(t)
	cur := map[string]string{}
	eventually(t, 10*time.Second, "both current keys in the state", func() bool {
		_, body := p.get(t, "/status")
		var rows []map[string]any
		if json.Unmarshal([]byte(body), &rows) != nil {
			return false
		}
		for _, r := range rows {
			if id, _ := r["current_key_id"].(string); id != "" {
				cur[r["key"].(string)] = id
			}
		}
		return cur["mail"] != "" && cur["news"] != ""
	})
	revokedAt := time.Now()
	revokeAtSmtpd(t, w, cur["mail"])
	if !w.emailit.DeleteKey(cur["news"]) {
		t.Fatalf("no emailit key %s", cur["news"])
	}
	eventually(t, 20*time.Second, "emergency rotations of both keys", func() bool {
		_, m := p.get(t, "/metrics")
		return metric(m, "rotator_emergency_rotations_total", `key="mail"`) >= 1 &&
			metric(m, "rotator_emergency_rotations_total", `key="news"`) >= 1 &&
			successes(m, "mail") >= 2 && successes(m, "news") >= 2
	})
	recovered := time.Since(revokedAt)
	// The probe saw the outage we caused, and then valid keys again.
	// Two full probe passes with no new outage: every sink holds a valid key.
	rep0 := pr.summary(time.Hour)
	outages0, reads0 := len(rep0.outages), rep0.reads
	eventually(t, 5*time.Second, "valid keys in every sink", func() bool {
		rep := pr.summary(time.Hour)
		if len(rep.outages) != outages0 {
			outages0, reads0 = len(rep.outages), rep.reads
			return false
		}
		return rep.reads >= reads0+2*len(pr.targets)
	})
	if !strings.Contains(p.logText(), "rotating now: the provider no longer accepts the current key") {
		t.Error("the logs do not say why the key was rotated at once")
	}
	if recovered > 2*time.Second+5*time.Second {
		t.Errorf("recovered %s after the revocation, want within the keep-alive interval (2s) and a rotation", recovered)
	}
	rep := pr.summary(time.Hour)
	t.Logf("E2E-FIGURES test=emergency recovered_after=%s outage_reads=%d", recovered.Round(10*time.Millisecond), len(rep.outages))
	pr.mu.Lock()
	pr.outages = nil // caused by the test, on purpose
	pr.mu.Unlock()
	w.stopAndVerify(t, p, pr, 3*time.Second)
}
