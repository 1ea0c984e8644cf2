package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// promAPI queries Prometheus's HTTP API and decodes data into out.
func promAPI(ctx context.Context, base, path string, q url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s: %d %s", path, resp.StatusCode, body)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s %s: %s", path, q.Encode(), env.Error)
	}
	return json.Unmarshal(env.Data, out)
}

type vectorResult struct {
	ResultType string `json:"resultType"`
	Result     []struct {
		Metric map[string]string `json:"metric"`
		Value  []any             `json:"value"`
	} `json:"result"`
}

// TestEndToEndPrometheus runs the daemon in --demo mode and a real
// Prometheus scraping it every second with deploy/prometheus/rules.yml
// loaded, and checks through Prometheus's HTTP API that the target is up,
// rotations arrive, every rule loads and evaluates with health ok, every
// metric the rules and dashboard use exists, and every dashboard query
// evaluates. It also plays systemd: READY=1, watchdog pings and
// STOPPING=1 must arrive on NOTIFY_SOCKET, and SIGTERM must exit 0.
func TestEndToEndPrometheus(t *testing.T) {
	t.Parallel()
	promBin := requireTool(t, "prometheus", "prometheus")
	bin := buildRotator(t)
	dir := t.TempDir()
	rotatorAddr := freePort(t)

	// Play systemd for rotator.service's Type=notify and WatchdogSec=.
	notify := listenNotify(t, filepath.Join(dir, "notify.sock"))
	rot := startProcess(t, dir, []string{"NOTIFY_SOCKET=" + notify.path, "WATCHDOG_USEC=2000000", "WATCHDOG_PID="},
		bin, "--demo", "--listen", rotatorAddr, "--log-format", "json")

	rulesPath, err := filepath.Abs(filepath.Join("prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	prom, base := startPrometheus(t, dir, promBin, rulesPath, rotatorAddr)

	ctx, cancel := context.WithTimeout(context.Background(), e2eDeadline)
	defer cancel()
	waitFor := func(what string, check func() error) {
		t.Helper()
		poll(ctx, t, what, []*process{rot, prom}, check)
	}

	for _, p := range []string{"/healthz", "/readyz"} {
		waitFor("rotator "+p, func() error {
			resp, err := http.Get("http://" + rotatorAddr + p)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", p, resp.Status)
			}
			return nil
		})
	}

	waitFor("READY=1 and WATCHDOG=1 on NOTIFY_SOCKET", func() error {
		got := notify.received()
		if !strings.Contains(got, "READY=1") || !strings.Contains(got, "WATCHDOG=1") {
			return fmt.Errorf("received %q", got)
		}
		return nil
	})

	waitFor("the scrape target to be up", func() error {
		var v vectorResult
		if err := promAPI(ctx, base, "/api/v1/query", url.Values{"query": {`up{job="rotator"} == 1`}}, &v); err != nil {
			return err
		}
		if len(v.Result) != 1 {
			return fmt.Errorf("up{job=\"rotator\"} == 1: %d series", len(v.Result))
		}
		return nil
	})

	waitFor("successful rotations in Prometheus", func() error {
		var v vectorResult
		q := `sum by (key) (rotator_rotations_total{job="rotator", result="success"}) > 0`
		if err := promAPI(ctx, base, "/api/v1/query", url.Values{"query": {q}}, &v); err != nil {
			return err
		}
		if len(v.Result) == 0 {
			return fmt.Errorf("%s: no series yet", q)
		}
		return nil
	})

	nRules := len(alerts(loadRules(t)))
	waitFor("every rule loaded and evaluated with health ok", func() error {
		var rules struct {
			Groups []struct {
				File  string `json:"file"`
				Rules []struct {
					Name      string `json:"name"`
					Type      string `json:"type"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		}
		if err := promAPI(ctx, base, "/api/v1/rules", nil, &rules); err != nil {
			return err
		}
		n := 0
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				n++
				if r.Type != "alerting" {
					return fmt.Errorf("rule %s has type %s", r.Name, r.Type)
				}
				if r.LastError != "" {
					return fmt.Errorf("rule %s: %s", r.Name, r.LastError)
				}
				if r.Health != "ok" {
					return fmt.Errorf("rule %s: health %q", r.Name, r.Health)
				}
			}
		}
		if n != nRules {
			return fmt.Errorf("%d rules loaded, rules.yml has %d", n, nRules)
		}
		return nil
	})

	// The metric contract, both ways: everything the rules and dashboard
	// use is exported, and everything exported is documented there.
	var names []string
	if err := promAPI(ctx, base, "/api/v1/label/__name__/values", nil, &names); err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, n := range names {
		if strings.HasPrefix(n, "rotator_") || n == "up" {
			exported[family(n)] = true
		}
	}
	for m := range knownMetrics {
		if !exported[m] {
			t.Errorf("the daemon does not export %s, which the rules, dashboard and docs rely on", m)
		}
	}
	for m := range exported {
		if _, ok := knownMetrics[m]; !ok {
			t.Errorf("the daemon exports %s, which deploy/metrics_test.go and docs/monitoring.md do not list", m)
		}
	}

	// Rates need two samples in their window.
	waitFor("rates over the demo's rotations", func() error {
		var v vectorResult
		q := `sum(increase(rotator_rotations_total{job="rotator"}[1m]))`
		if err := promAPI(ctx, base, "/api/v1/query", url.Values{"query": {q}}, &v); err != nil {
			return err
		}
		if len(v.Result) == 0 {
			return fmt.Errorf("%s: no data yet", q)
		}
		return nil
	})

	// Every dashboard query evaluates; most have data.
	d := loadDashboard(t)
	var empty []string
	exprs := dashboardExprs(t, d)
	for where, expr := range exprs {
		var v json.RawMessage
		if err := promAPI(ctx, base, "/api/v1/query", url.Values{"query": {expandVariables(expr)}}, &v); err != nil {
			t.Errorf("dashboard %s: %v", where, err)
			continue
		}
		var vr vectorResult
		if json.Unmarshal(v, &vr) == nil && len(vr.Result) == 0 {
			empty = append(empty, where)
		}
	}
	sort.Strings(empty)
	t.Logf("dashboard: %d queries evaluate; %d without data in the demo: %q", len(exprs), len(empty), empty)
	if len(empty) > len(exprs)/2 {
		t.Errorf("most dashboard queries return nothing against the demo: %q", empty)
	}

	var active struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	if err := promAPI(ctx, base, "/api/v1/alerts", nil, &active); err != nil {
		t.Fatal(err)
	}
	for _, a := range active.Alerts {
		t.Logf("alert %s %s %v", a.Labels["alertname"], a.State, a.Labels)
	}

	// Resource use, for the Kubernetes requests and limits.
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", rot.cmd.Process.Pid)); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM:") || strings.HasPrefix(line, "VmRSS:") {
				t.Logf("rotator --demo %s", strings.Join(strings.Fields(line), " "))
			}
		}
	}

	// SIGTERM: the daemon drains and exits 0.
	if err := rot.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rot.exited:
		if rot.err != nil {
			t.Errorf("rotator exited with %v after SIGTERM, want 0\n%s", rot.err, tail(rot.output(), 2000))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("rotator did not exit within 30s of SIGTERM")
	}
	if got := notify.received(); !strings.Contains(got, "STOPPING=1") {
		t.Errorf("no STOPPING=1 on NOTIFY_SOCKET after SIGTERM; received %q", got)
	}
	if ps := rot.cmd.ProcessState; ps != nil {
		t.Logf("rotator cpu: user %s system %s", ps.UserTime(), ps.SystemTime())
	}
}

// startPrometheus starts a real Prometheus on a loopback port with its
// storage in dir, scraping target every second as job "rotator" and
// evaluating rulesPath every second. It returns the process and its URL.
func startPrometheus(t *testing.T, dir, promBin, rulesPath, target string) (*process, string) {
	t.Helper()
	promAddr := freePort(t)
	promCfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promCfg, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: rotator
    static_configs:
      - targets: [%q]
`, rulesPath, target))
	prom := startProcess(t, dir, nil, promBin,
		"--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr,
		"--log.level=warn")
	return prom, "http://" + promAddr
}
