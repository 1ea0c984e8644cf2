package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
)

// TestStatusNeedsLoopbackOrToken drives the /status guard with requests
// from loopback and from elsewhere, with and without a token configured.
func TestStatusNeedsLoopbackOrToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "key ids") })
	for _, c := range []struct {
		name, token, remote, auth string
		want                      int
	}{
		{"no token, from another host", "", "10.1.2.3:40000", "", http.StatusForbidden},
		{"no token, from an IPv6 host", "", "[2001:db8::1]:40000", "", http.StatusForbidden},
		{"no token, a bearer does not help", "", "10.1.2.3:40000", "Bearer anything", http.StatusForbidden},
		{"no token, from 127.0.0.1", "", "127.0.0.1:40000", "", http.StatusOK},
		{"no token, from ::1", "", "[::1]:40000", "", http.StatusOK},
		{"no token, from mapped 127.0.0.1", "", "[::ffff:127.0.0.1]:40000", "", http.StatusOK},
		{"token, none sent", "t0ken", "10.1.2.3:40000", "", http.StatusUnauthorized},
		{"token, wrong one", "t0ken", "10.1.2.3:40000", "Bearer t0ken2", http.StatusUnauthorized},
		{"token, a prefix of it", "t0ken", "10.1.2.3:40000", "Bearer t0ke", http.StatusUnauthorized},
		{"token, not a bearer", "t0ken", "10.1.2.3:40000", "Basic t0ken", http.StatusUnauthorized},
		{"token, needed on loopback too", "t0ken", "127.0.0.1:40000", "", http.StatusUnauthorized},
		{"token, right one", "t0ken", "10.1.2.3:40000", "Bearer t0ken", http.StatusOK},
		{"token, scheme in lower case", "t0ken", "10.1.2.3:40000", "bearer t0ken", http.StatusOK},
	} {
		r := httptest.NewRequest(http.MethodGet, "/status", nil)
		r.RemoteAddr = c.remote
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		w := httptest.NewRecorder()
		requireOperator(config.Secret(c.token), ok).ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s: %d, want %d", c.name, w.Code, c.want)
		}
		if w.Code != http.StatusOK && strings.Contains(w.Body.String(), "key ids") {
			t.Errorf("%s: refused but the body leaked: %q", c.name, w.Body.String())
		}
	}
}

// TestDaemonStatusWithToken runs the daemon with control.token_file: /status
// refuses requests without the token (loopback included), /metrics and the
// probes stay open, and `rotator --status` still answers while it runs.
func TestDaemonStatusWithToken(t *testing.T) {
	e := newEnv(t, "1h")
	must(t, os.WriteFile(filepath.Join(e.dir, "token"), []byte("operator-token\n"), 0o600))
	policy, err := os.ReadFile(e.config)
	must(t, err)
	must(t, os.WriteFile(e.config, append([]byte("control: {token_file: ./token}\n"), policy...), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	var out, errb bytes.Buffer
	c := newCLI(&out, &errb)
	c.ctx = ctx
	c.onListen = func(a string) { addr <- a }
	done := make(chan int, 1)
	go func() { done <- c.run([]string{"--config", e.config, "--log-format", "json"}) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("daemon did not stop")
		}
	}()
	var a string
	select {
	case a = <-addr:
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not listen")
	}
	waitHTTP(t, "http://"+a+"/readyz", "ready")
	waitHTTP(t, "http://"+a+"/metrics", "rotator_")
	waitHTTP(t, "http://"+a+"/healthz", "ok")

	get := func(auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+a+"/status", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(""); code != http.StatusUnauthorized || strings.Contains(body, "mail") {
		t.Errorf("/status without the token: %d %q, want 401 and no key name", code, body)
	}
	if code, _ := get("Bearer wrong-token"); code != http.StatusUnauthorized {
		t.Errorf("/status with a wrong token: %d, want 401", code)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := get("Bearer operator-token")
		if code == http.StatusOK && strings.Contains(body, `"current_key_id"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/status with the token: %d %q", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, status, errs := runCLI(t, "--config", e.config, "--status", "--listen", a)
	if code != exitOK || !strings.Contains(status, "mail") {
		t.Errorf("--status while the daemon runs: exit %d\n%s%s", code, status, errs)
	}
	// The daemon writes errb until it stopped (a race otherwise).
	cancel()
	done <- <-done // for the deferred wait
	e.assertNoSecret(t, "daemon logs", errb.String())
	if strings.Contains(errb.String(), "operator-token") {
		t.Error("the control token appears in the daemon's logs")
	}
}

// TestDaemonStatusRefusesOtherHosts runs the daemon on all interfaces with
// no token: /status answers on loopback and refuses a connection from this
// host's own non-loopback address (as from another pod), while /metrics
// answers both.
func TestDaemonStatusRefusesOtherHosts(t *testing.T) {
	e := newEnv(t, "1h")
	other := nonLoopbackIPv4(t)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	var out, errb bytes.Buffer
	c := newCLI(&out, &errb)
	c.ctx = ctx
	c.onListen = func(a string) { addr <- a }
	done := make(chan int, 1)
	go func() { done <- c.run([]string{"--config", e.config, "--log-format", "json", "--listen", "0.0.0.0:0"}) }()
	defer func() {
		cancel()
		<-done
	}()
	var port string
	select {
	case a := <-addr:
		_, port, _ = net.SplitHostPort(a)
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not listen")
	}
	waitHTTP(t, "http://127.0.0.1:"+port+"/status", `"current_key_id"`)
	if other == "" {
		t.Log("no non-loopback IPv4 address here: TestStatusNeedsLoopbackOrToken covers other hosts")
		return
	}
	waitHTTP(t, "http://"+net.JoinHostPort(other, port)+"/metrics", "rotator_")
	resp, err := http.Get("http://" + net.JoinHostPort(other, port) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "mail") {
		t.Errorf("/status from %s: %d %q, want 403 and no key name", other, resp.StatusCode, body)
	}
}

func nonLoopbackIPv4(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	return ""
}
