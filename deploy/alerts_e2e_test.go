package deploy

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
)

// TestAlertsFireAgainstTheDaemon breaks a real daemon in three ways and
// checks, in a real Prometheus, that the alerts meant for each fire with
// the right labels and that none fires for the healthy key. It proves that
// the rules' selectors (label names, result and code values) match what
// the daemon really exports, which promtool's unit tests cannot: they feed
// the rules series written by hand.
//
// The rules are loaded with every `for:` set to 0s so that the test takes
// seconds; rules_test.yml covers the `for:` durations.
func TestAlertsFireAgainstTheDaemon(t *testing.T) {
	t.Parallel()
	promBin := requireTool(t, "prometheus", "prometheus")
	bin := buildTestRotator(t) // ROTATOR_TEST_RETRY_* below
	dir := t.TempDir()

	healthy := smtpdtest.New(smtpdtest.Config{})
	t.Cleanup(healthy.Close)
	down := smtpdtest.New(smtpdtest.Config{})
	t.Cleanup(down.Close)
	down.FailNext("", 1<<30, 500) // every request: 500 Internal Server Error

	writeFile(t, filepath.Join(dir, "pw-healthy"), healthy.Password()+"\n")
	writeFile(t, filepath.Join(dir, "pw-down"), down.Password()+"\n")
	for _, d := range []string{"out", "bad"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// A folder where the target file should be: the folder passes the
	// start-up check, and every write to the "bad" sink fails, even as root.
	if err := os.MkdirAll(filepath.Join(dir, "bad", "sink-broken.env", "x"), 0o700); err != nil {
		t.Fatal(err)
	}

	addr := freePort(t)
	cfg := filepath.Join(dir, "rotator.yaml")
	writeFile(t, cfg, fmt.Sprintf(`listen: %q
state: {path: ./state.db}
defaults: {schedule: "@every 1h", grace: 0s, keepalive: 0s, timeout: 10s}
providers:
  smtpd-healthy: {type: smtpd, base_url: %q, username: %q, password_file: ./pw-healthy, rate_limit: 100, request_timeout: 2s}
  smtpd-down: {type: smtpd, base_url: %q, username: %q, password_file: ./pw-down, rate_limit: 100, request_timeout: 2s}
sinks:
  out: {type: file, dir: ./out}
  bad: {type: file, dir: ./bad}
keys:
  - name: healthy
    provider: smtpd-healthy
    params: {role: send_only}
    sinks: [{sink: out, path: healthy.env}]
  - name: provider-down
    provider: smtpd-down
    params: {role: send_only}
    sinks: [{sink: out, path: provider-down.env}]
  - name: sink-broken
    provider: smtpd-healthy
    params: {role: send_only}
    sinks: [{sink: bad, path: sink-broken.env}]
`, addr, healthy.URL(), healthy.Username(), down.URL(), down.Username()))

	rot := startProcess(t, dir, []string{"ROTATOR_TEST_RETRY_BASE=200ms", "ROTATOR_TEST_RETRY_MAX=1s"},
		bin, "--config", cfg, "--log-format", "json")

	rules := filepath.Join(dir, "rules.yml")
	src := readFile(t, filepath.Join("prometheus", "rules.yml"))
	for _, r := range alerts(loadRules(t)) {
		if r.For != "" {
			src = mutateFor(t, src, r.Alert, "0s")
		}
	}
	writeFile(t, rules, src)
	prom, base := startPrometheus(t, dir, promBin, rules, addr)

	ctx, cancel := context.WithTimeout(context.Background(), e2eDeadline)
	defer cancel()

	want := []string{
		`ProviderErrors{provider="smtpd-down"}`,
		`RotationFailing{key="provider-down"}`,
		`RotationFailing{key="sink-broken"}`,
		`SinkWritesFailing{sink="bad"}`,
	}
	var firing []string
	poll(ctx, t, "the alerts for the broken keys, provider and sink", []*process{rot, prom}, func() error {
		var v vectorResult
		if err := promAPI(ctx, base, "/api/v1/query", url.Values{"query": {`ALERTS{alertstate="firing"}`}}, &v); err != nil {
			return err
		}
		firing = firing[:0]
		for _, r := range v.Result {
			m := r.Metric
			subject := ""
			for _, l := range []string{"key", "provider", "sink"} {
				if m[l] != "" {
					subject = fmt.Sprintf("%s=%q", l, m[l])
				}
			}
			firing = append(firing, m["alertname"]+"{"+subject+"}")
		}
		sort.Strings(firing)
		for _, w := range want {
			if !contains(firing, w) {
				return fmt.Errorf("firing %q, want %q among them", firing, w)
			}
		}
		return nil
	})
	t.Logf("firing: %q", firing)
	for _, f := range firing {
		if !contains(want, f) {
			t.Errorf("alert %s fires too; only %q should", f, want)
		}
	}

	// The healthy key did rotate: the alerts are not just firing for all.
	var v vectorResult
	q := `rotator_rotations_total{job="rotator", key="healthy", result="success"} > 0`
	if err := promAPI(ctx, base, "/api/v1/query", url.Values{"query": {q}}, &v); err != nil || len(v.Result) != 1 {
		t.Errorf("%s: %v %+v", q, err, v)
	}
}
