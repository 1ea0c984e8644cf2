package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers/emailit/emailittest"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
	"github.com/rotator-dev/rotator/internal/state"
)

// policy is the part of the configuration a test tunes.
type policy struct {
	Schedule, Grace, KeepAlive, Timeout string
	// RequestTimeout is both providers' request_timeout.
	RequestTimeout string
	// MaxRetries is both providers' max_retries ("" for the default).
	MaxRetries string
	// ShutdownTimeout is the drain bound on SIGTERM.
	ShutdownTimeout string
	// StateDir is the state file's folder, relative to the world's folder.
	StateDir string
	// Proxy puts a fault proxy in front of each provider.
	Proxy bool
	// Defaults is added to the defaults mapping (", revoke_when: unused");
	// Hooks is a top-level hooks: section; KeyHooks is each key's hooks:
	// value ("[{hook: notify, on: [converged]}]"), NewsHooks the news
	// key's instead when set ("[]": none).
	Defaults, Hooks, KeyHooks, NewsHooks string
}

func fastPolicy() policy {
	return policy{Schedule: "@every 3s", Grace: "3s", KeepAlive: "2s", Timeout: "10s", RequestTimeout: "2s",
		ShutdownTimeout: "5s", StateDir: "state"}
}

// world is one rotator installation: both provider test servers, two file
// sinks (out and backup), a policy with two keys, and everything the
// daemon printed, for the secret search.
//
//	mail (smtpd, role send_only)  → out/mail.json and backup/mail.env
//	news (emailit, scope sending) → out/news.json (api_key renamed EMAILIT_API_KEY)
type world struct {
	t       *testing.T
	dir     string
	config  string
	pol     policy
	smtpd   *smtpdtest.Server
	emailit *emailittest.Server
	// proxies sit in front of the servers when policy.Proxy is set.
	smtpdProxy, emailitProxy *proxy

	mu       sync.Mutex
	evidence []evidence
	runs     int
}

// evidence is text rotator produced that must never hold a credential.
type evidence struct {
	where string
	text  func() string
}

func newWorld(t *testing.T, pol policy) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), pol: pol}
	if os.Getenv("E2E_KEEP") != "" { // keep the logs and files for a look
		dir, err := os.MkdirTemp("", "rotator-e2e-")
		must(t, err)
		t.Logf("E2E_KEEP: files in %s", dir)
		w.dir = dir
	}
	w.smtpd = smtpdtest.New(smtpdtest.Config{Password: "pw-" + randomHex(16)})
	w.emailit = emailittest.New(emailittest.Config{RateLimit: emailittest.NoRateLimit})
	t.Cleanup(w.smtpd.Close)
	t.Cleanup(w.emailit.Close)
	smtpdURL, emailitURL := w.smtpd.URL(), w.emailit.URL()
	if pol.Proxy {
		w.smtpdProxy = newProxy(t, smtpdURL, smtpdErrorBody)
		w.emailitProxy = newProxy(t, emailitURL, emailitErrorBody)
		smtpdURL, emailitURL = w.smtpdProxy.URL(), w.emailitProxy.URL()
	}
	for _, d := range []string{"out", "backup"} {
		must(t, os.Mkdir(filepath.Join(w.dir, d), 0o700))
	}
	must(t, os.WriteFile(filepath.Join(w.dir, "pw"), []byte(w.smtpd.Password()+"\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(w.dir, "ek"), []byte(w.emailit.ManagementKey()+"\n"), 0o600))
	w.writeConfig(smtpdURL, emailitURL)
	// Registered after the servers' Close, so it runs before them.
	t.Cleanup(w.checkNoLeak)
	return w
}

func (w *world) writeConfig(smtpdURL, emailitURL string) {
	p := w.pol
	retries := ""
	if p.MaxRetries != "" {
		retries = ", max_retries: " + p.MaxRetries
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
state: {path: ./%s/state.db}
shutdown_timeout: %s
defaults: {schedule: %q, grace: %s, keepalive: %s, timeout: %s%s}
%sproviders:
  smtpd: {type: smtpd, base_url: %q, username: %q, password_file: ./pw, rate_limit: 100, request_timeout: %s%s}
  emailit: {type: emailit, base_url: %q, api_key_file: ./ek, rate_limit: 100, request_timeout: %s%s}
sinks:
  out: {type: file, dir: ./out}
  backup: {type: file, dir: ./backup}
keys:
  - name: mail
    provider: smtpd
    params: {role: send_only}
    sinks: [{sink: out, path: mail.json}, {sink: backup, path: mail.env}]
  - name: news
    provider: emailit
    params: {scope: sending}
    sinks: [{sink: out, path: news.json, fields: {api_key: EMAILIT_API_KEY}}]
`, p.StateDir, p.ShutdownTimeout, p.Schedule, p.Grace, p.KeepAlive, p.Timeout, p.Defaults, p.Hooks,
		smtpdURL, w.smtpd.Username(), p.RequestTimeout, retries, emailitURL, p.RequestTimeout, retries)
	newsHooks := p.NewsHooks
	if newsHooks == "" {
		newsHooks = p.KeyHooks
	}
	if p.KeyHooks != "" { // mail's sinks come first
		cfg = strings.Replace(cfg, "    sinks: [", "    hooks: "+p.KeyHooks+"\n    sinks: [", 1)
	}
	if newsHooks != "" {
		mail, news, _ := strings.Cut(cfg, "  - name: news\n")
		cfg = mail + "  - name: news\n" + strings.Replace(news, "    sinks: [", "    hooks: "+newsHooks+"\n    sinks: [", 1)
	}
	w.config = filepath.Join(w.dir, "rotator.yaml")
	must(w.t, os.WriteFile(w.config, []byte(cfg), 0o600))
}

func (w *world) statePath() string { return filepath.Join(w.dir, w.pol.StateDir, "state.db") }

// record adds text to the secret search.
func (w *world) record(where string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.evidence = append(w.evidence, evidence{where: where, text: func() string { return text }})
}

// recordFile adds a file, read at the end of the test, to the search.
func (w *world) recordFile(where, path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.evidence = append(w.evidence, evidence{where: where, text: func() string {
		b, _ := os.ReadFile(path)
		return string(b)
	}})
}

// secrets is every credential either server ever issued (keys, secrets,
// access and refresh tokens) and both management credentials.
func (w *world) secrets() []string {
	all := append(w.smtpd.IssuedSecrets(), w.emailit.IssuedSecrets()...)
	all = append(all, w.smtpd.Password(), w.emailit.ManagementKey())
	out := all[:0]
	for _, s := range all {
		if len(s) >= 8 {
			out = append(out, s)
		}
	}
	return out
}

// checkNoLeak fails the test when any credential appears in any log line,
// error, --status output, /metrics body or the state file; and checks the
// state file's and the sink files' modes.
func (w *world) checkNoLeak() {
	w.t.Helper()
	w.recordFile("the state file", w.statePath())
	leaks, texts, searched := w.leaks()
	for _, l := range leaks {
		w.t.Error(l)
	}
	if texts > 1 && searched == 0 {
		w.t.Error("the secret search found no text to search: the capture is broken")
	}
	// The state file and every file in the sinks' folders (temporary files
	// a kill left behind included) are readable by their owner only.
	files := []string{w.statePath()}
	for _, sink := range []string{"out", "backup"} {
		entries, _ := os.ReadDir(filepath.Join(w.dir, sink))
		for _, e := range entries {
			files = append(files, filepath.Join(w.dir, sink, e.Name()))
		}
	}
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			continue
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			w.t.Errorf("%s has mode %o, want 600", filepath.Base(p), m)
		}
	}
	w.t.Logf("secret search: %d credentials in %d texts (%d bytes)", len(w.secrets()), texts, searched)
}

// leaks searches every recorded text for every credential.
func (w *world) leaks() (found []string, texts, searched int) {
	secrets := w.secrets()
	w.mu.Lock()
	ev := append([]evidence(nil), w.evidence...)
	w.mu.Unlock()
	for _, e := range ev {
		text := e.text()
		searched += len(text)
		for _, s := range secrets {
			if strings.Contains(text, s) {
				found = append(found, fmt.Sprintf("a credential issued by a test server (%d chars, starting %.4s…) appears in %s", len(s), s, e.where))
			}
		}
	}
	return found, len(ev), searched
}

func (w *world) sinkPath(sink, file string) string { return filepath.Join(w.dir, sink, file) }

// proc is one rotator process.
type proc struct {
	w      *world
	cmd    *exec.Cmd
	log    string
	out    string
	addr   chan string
	done   chan struct{}
	state  *os.ProcessState
	listen string
}

// start runs rotator with args (default: the daemon) and env additions.
func (w *world) start(env []string, args ...string) *proc {
	w.t.Helper()
	w.mu.Lock()
	w.runs++
	n := w.runs
	w.mu.Unlock()
	if len(args) == 0 {
		args = []string{"--config", w.config}
	}
	args = append(args, "--log-format", "json")
	p := &proc{w: w, log: filepath.Join(w.dir, fmt.Sprintf("run-%03d.log", n)), addr: make(chan string, 1), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = w.dir
	p.cmd.Env = append(append(os.Environ(), "ROTATOR_TEST_RETRY_BASE=500ms", "ROTATOR_TEST_RETRY_MAX=4s"), env...)
	logf, err := os.Create(p.log)
	must(w.t, err)
	stderr, err := p.cmd.StderrPipe()
	must(w.t, err)
	p.out = strings.TrimSuffix(p.log, ".log") + ".out"
	outf, err := os.Create(p.out)
	must(w.t, err)
	defer outf.Close() // the child holds its own copy
	p.cmd.Stdout = outf
	w.recordFile(fmt.Sprintf("the logs of run %d (%s)", n, strings.Join(env, " ")), p.log)
	w.recordFile(fmt.Sprintf("the output of run %d (%s)", n, strings.Join(args, " ")), p.out)
	must(w.t, p.cmd.Start())
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			logf.Write(line)
			logf.Write([]byte{'\n'})
			var m struct {
				Msg    string `json:"msg"`
				Listen string `json:"listen"`
			}
			if json.Unmarshal(line, &m) == nil && m.Msg == "serving metrics" {
				select {
				case p.addr <- m.Listen:
				default:
				}
			}
		}
		io.Copy(logf, stderr)
	}()
	go func() {
		<-copied
		_ = p.cmd.Wait()
		logf.Close()
		p.state = p.cmd.ProcessState
		close(p.done)
	}()
	w.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// listening waits for the daemon's HTTP address.
func (p *proc) listening(t *testing.T, timeout time.Duration) string {
	t.Helper()
	if p.listen != "" {
		return p.listen
	}
	select {
	case a := <-p.addr:
		p.listen = a
		return a
	case <-p.done:
		t.Fatalf("rotator exited before listening (%s):\n%s", p.state, tail(p.log))
	case <-time.After(timeout):
		t.Fatalf("rotator did not listen within %s:\n%s", timeout, tail(p.log))
	}
	return ""
}

// wait waits for the process to exit and returns its state.
func (p *proc) wait(t *testing.T, timeout time.Duration) *os.ProcessState {
	t.Helper()
	select {
	case <-p.done:
		return p.state
	case <-time.After(timeout):
		t.Fatalf("rotator did not exit within %s:\n%s", timeout, tail(p.log))
	}
	return nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// logText is everything the process printed so far.
func (p *proc) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// get fetches a daemon endpoint and records the body for the secret search.
func (p *proc) get(t *testing.T, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + p.listening(t, 10*time.Second) + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p.w.record(path+" body", string(b))
	return resp.StatusCode, string(b)
}

// stdout is what the process printed on stdout so far.
func (p *proc) stdout() string {
	b, _ := os.ReadFile(p.out)
	return string(b)
}

// run runs rotator to completion (--run-now, --status, ...) and returns its
// exit code, stdout and logs (stderr).
func (w *world) run(t *testing.T, env []string, args ...string) (code int, stdout, logs string) {
	t.Helper()
	p := w.start(env, args...)
	st := p.wait(t, 60*time.Second)
	return st.ExitCode(), p.stdout(), p.logText()
}

// openState opens the state file read-only (the daemon must be stopped).
func (w *world) openState(t *testing.T) []state.Key {
	t.Helper()
	st, err := state.Open(w.statePath(), state.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("the state file does not open: %v", err)
	}
	defer st.Close()
	all, err := st.All()
	if err != nil {
		t.Fatalf("the state file does not read: %v", err)
	}
	return all
}

// liveKeys are the keys the servers hold alive now (the Emailit
// management key excluded), by id, with their names.
func (w *world) liveKeys() map[string]string {
	live := map[string]string{}
	for _, k := range w.smtpd.Keys() {
		if k.Active {
			live["smtpd/"+k.ID] = k.Name
		}
	}
	for _, k := range w.emailit.Keys() {
		if !k.Management {
			live["emailit/"+k.ID] = k.Name
		}
	}
	return live
}

// createdKeys is how many keys the servers ever created.
func (w *world) createdKeys() int {
	return len(w.smtpd.Keys()) + len(w.emailit.IssuedSecrets()) - 1
}

// untracked returns the live keys at the providers that the state file
// does not account for: neither current, nor retiring, nor the key (by id
// or by recorded name) of a rotation in flight, nor a watched name (a
// create with no definite answer, revoked when it appears). After a clean stop and
// after a kill alike, this must be empty: that is "no orphan".
func (w *world) untracked(t *testing.T) []string {
	t.Helper()
	tracked := map[string]bool{}
	names := map[string]bool{}
	for _, k := range w.openState(t) {
		if k.Current != nil {
			tracked[k.Current.Provider+"/"+k.Current.ID] = true
		}
		for _, r := range k.Retiring {
			tracked[r.Provider+"/"+r.ID] = true
		}
		if r := k.Rotation; r != nil {
			if r.KeyID != "" {
				tracked[r.Provider+"/"+r.KeyID] = true
			}
			names[r.KeyName] = true
		}
		for _, w := range k.Watch {
			names[w.Name] = true
		}
	}
	var out []string
	for id, name := range w.liveKeys() {
		if !tracked[id] && !names[name] {
			out = append(out, id+" ("+name+")")
		}
	}
	return out
}

// eventually polls cond every 50 ms until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond) // the poll interval
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tail is the end of a log, for failure messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
