package deploy

import (
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// e2eDeadline bounds the whole end-to-end run once both processes are up.
const e2eDeadline = 2 * time.Minute

var (
	buildMu  sync.Mutex
	binPaths = map[string]string{} // by build tags
	buildDir string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

const (
	stampVersion  = "e2e-version"
	stampRevision = "e2e-revision"
)

// buildRotator builds ./cmd/rotator the way the Dockerfile does: the same
// environment and flags, read from the Dockerfile's go build step.
func buildRotator(t *testing.T) string { return buildRotatorTags(t, "") }

// buildTestRotator is buildRotator with the test hooks (-tags failpoints:
// ROTATOR_TEST_RETRY_* and the failpoints), which the shipped binary lacks.
func buildTestRotator(t *testing.T) string { return buildRotatorTags(t, "failpoints") }

func buildRotatorTags(t *testing.T, tags string) string {
	t.Helper()
	goTool := requireTool(t, "go", "golang (or the Go toolchain in /usr/local/go/bin)")
	root := repoRoot(t)
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := binPaths[tags]; ok {
		return p
	}
	m := regexp.MustCompile(`-ldflags="([^"]+)"`).FindStringSubmatch(readFile(t, filepath.Join(root, "Dockerfile")))
	if m == nil {
		t.Fatalf("no -ldflags=%q in the Dockerfile's go build step", "...")
	}
	ldflags := strings.NewReplacer("${VERSION}", stampVersion, "${REVISION}", stampRevision).Replace(m[1])
	if buildDir == "" {
		d, err := os.MkdirTemp("", "rotator-e2e-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	bin := filepath.Join(buildDir, "rotator"+strings.ReplaceAll("-"+tags, ",", "-"))
	cmd := exec.Command(goTool, "build", "-tags="+tags, "-trimpath", "-ldflags="+ldflags, "-o", bin, "./cmd/rotator")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags=%q ./cmd/rotator: %v\n%s", tags, err, out)
	}
	binPaths[tags] = bin
	return bin
}

// TestBinaryIsStaticAndStamped checks what the distroless static image
// needs: no dynamic loader, no shared libraries, and the version stamped by
// the Dockerfile's ldflags reaching --version.
func TestBinaryIsStaticAndStamped(t *testing.T) {
	bin := buildRotator(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has a dynamic loader (PT_INTERP): not static, will not run on distroless/static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary links shared libraries %q", libs)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("rotator --version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), stampVersion) || !strings.Contains(string(out), stampRevision) {
		t.Errorf("rotator --version printed %q, want the stamped %s and %s", out, stampVersion, stampRevision)
	}
}

// TestShippedPoliciesPassCheckConfig runs `rotator --check-config` on the
// policy the Kubernetes manifests ship, with its absolute paths moved into
// a temporary folder.
func TestShippedPoliciesPassCheckConfig(t *testing.T) {
	bin := buildRotator(t)
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.MkdirAll(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	src := readFile(t, filepath.Join("kubernetes", "common", "rotator.yaml"))
	for _, m := range regexp.MustCompile(`/etc/rotator/credentials/([a-z0-9-]+)`).FindAllStringSubmatch(src, -1) {
		writeFile(t, filepath.Join(creds, m[1]), "not-a-real-secret\n")
	}
	src = strings.NewReplacer("/etc/rotator/credentials", creds, "/var/lib/rotator", filepath.Join(dir, "state")).Replace(src)
	cfg := filepath.Join(dir, "rotator.yaml")
	writeFile(t, cfg, src)
	out, err := exec.Command(bin, "--check-config", "--config", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("rotator --check-config on deploy/kubernetes/common/rotator.yaml: %v\n%s", err, out)
	}
}

// TestDeployedFlagsExist checks that every flag the units and manifests
// pass to rotator is one the binary knows.
func TestDeployedFlagsExist(t *testing.T) {
	bin := buildRotator(t)
	// Every flag the help of rotator and of each command names.
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	for _, cmd := range regexp.MustCompile(`(?m)^  ([a-z-]+)  `).FindAllStringSubmatch(string(help), -1) {
		more, _ := exec.Command(bin, "help", cmd[1]).CombinedOutput()
		help = append(help, more...)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`--([a-z][a-z-]+)`).FindAllStringSubmatch(string(help), -1) {
		known[m[1]] = true
	}
	if len(known) < 5 {
		t.Fatalf("could not read flags from rotator --help:\n%s", help)
	}
	files := []string{"systemd/rotator.service", "systemd/rotator-run-now.service",
		"kubernetes/deployment.yaml", "kubernetes/run-now/cronjob.yaml", "helm/rotator/templates/_helpers.tpl", "../Dockerfile"}
	flag := regexp.MustCompile(`(?:^|[\s"\[])--([a-z][a-z-]+)`)
	for _, f := range files {
		for _, line := range strings.Split(readFile(t, f), "\n") {
			// Command lines: ExecStart=, args:, CMD and ENTRYPOINT.
			l := strings.TrimSpace(line)
			if !strings.HasPrefix(l, "ExecStart=") && !strings.HasPrefix(l, "args:") &&
				!strings.HasPrefix(l, "CMD ") && !strings.HasPrefix(l, "ENTRYPOINT ") {
				continue
			}
			for _, m := range flag.FindAllStringSubmatch(line, -1) {
				if !known[m[1]] {
					t.Errorf("%s passes --%s, which rotator does not know: %s", f, m[1], strings.TrimSpace(line))
				}
			}
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// process is a started command whose output goes to a file.
type process struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, once exited is closed
}

func (p *process) output() string { b, _ := os.ReadFile(p.log); return string(b) }

// startProcess starts a command with its output in a file in dir, and
// stops it at cleanup: SIGTERM, then SIGKILL after 10 seconds.
func startProcess(t *testing.T, dir string, env []string, name string, args ...string) *process {
	t.Helper()
	p := &process{log: filepath.Join(dir, filepath.Base(name)+".log"), exited: make(chan struct{})}
	logFile, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(name, args...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); logFile.Close(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

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

// poll calls check every 500ms until it returns nil; it fails the test,
// with the processes' output, when one of them exits or ctx ends first.
func poll(ctx context.Context, t *testing.T, what string, procs []*process, check func() error) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		var logs strings.Builder
		for _, p := range procs {
			fmt.Fprintf(&logs, "\n--- %s (tail) ---\n%s", filepath.Base(p.cmd.Path), tail(p.output(), 3000))
		}
		t.Fatalf(format+"%s", append(args, logs.String())...)
	}
	for {
		last := check()
		if last == nil {
			return
		}
		for _, p := range procs {
			select {
			case <-p.exited:
				fail("%s exited while waiting for %s: %v", filepath.Base(p.cmd.Path), what, p.err)
			default:
			}
		}
		select {
		case <-ctx.Done():
			fail("timed out waiting for %s: %v", what, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// notifySocket is systemd's end of the sd_notify protocol.
type notifySocket struct {
	path string
	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T, path string) *notifySocket {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	n := &notifySocket{path: path}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	return n
}

func (n *notifySocket) received() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.msgs, "\n")
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
