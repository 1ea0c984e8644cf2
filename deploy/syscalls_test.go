package deploy

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// syscallSet expands a systemd syscall group ("@system-service") into the
// syscalls it names, with systemd-analyze itself.
func syscallSet(t *testing.T, tool, group string) map[string]bool {
	t.Helper()
	out, err := exec.Command(tool, "syscall-filter", group).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze syscall-filter %s: %v\n%s", group, err, out)
	}
	set := map[string]bool{}
	lines := strings.Split(string(out), "\n")
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "@"):
			for s := range syscallSet(t, tool, l) {
				set[s] = true
			}
		default:
			set[l] = true
		}
	}
	return set
}

// TestSystemdSandboxAllowsTheDaemon runs the daemon (--demo: real
// rotations, keep-alives, HTTP serving and scrapes) under strace and checks
// that every system call it makes passes rotator.service's
// SystemCallFilter= lines and every socket it opens passes
// RestrictAddressFamilies=. systemd cannot run here; this is the part of
// the sandbox that could break the daemon at run time.
func TestSystemdSandboxAllowsTheDaemon(t *testing.T) {
	t.Parallel()
	analyze := requireTool(t, "systemd-analyze", "systemd")
	strace := requireTool(t, "strace", "strace")
	bin := buildRotator(t)

	svc := unitSettings(t, "rotator.service")["Service"]
	// Allow lists add up, then deny lists (~) take away, as systemd does
	// when a unit has one of each.
	allowed := map[string]bool{}
	for _, deny := range []bool{false, true} {
		for _, f := range svc["SystemCallFilter"] {
			if strings.HasPrefix(f, "~") != deny {
				continue
			}
			for _, g := range strings.Fields(strings.TrimPrefix(f, "~")) {
				for s := range syscallSet(t, analyze, g) {
					if deny {
						delete(allowed, s)
					} else {
						allowed[s] = true
					}
				}
			}
		}
	}
	if len(allowed) < 100 {
		t.Fatalf("SystemCallFilter= allows only %d syscalls: %q", len(allowed), svc["SystemCallFilter"])
	}
	families := map[string]bool{}
	for _, f := range strings.Fields(strings.Join(svc["RestrictAddressFamilies"], " ")) {
		families[f] = true
	}

	dir := t.TempDir()
	trace := filepath.Join(dir, "trace")
	addr := freePort(t)
	cmd := exec.Command(strace, "-f", "-qq", "-o", trace, bin, "--demo", "--listen", addr, "--log-format", "json")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// The daemon is strace's child: signal it, not strace (which would
	// detach and leave it running).
	daemonPID := func() int {
		b, _ := os.ReadFile(trace)
		var pid int
		fmt.Sscanf(string(b), "%d", &pid)
		return pid
	}
	defer func() {
		if pid := daemonPID(); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = cmd.Process.Kill()
		<-exited
	}()

	// Until both demo keys have rotated twice and an old key was revoked
	// (create, sink writes, verification, revocation, keep-alive),
	// scraping /metrics and /status along the way.
	deadline := time.After(90 * time.Second)
	rotated := regexp.MustCompile(`rotator_rotations_total\{[^}]*result="success"\} [2-9]`)
	revoked := regexp.MustCompile(`rotator_revocations_total\{[^}]*result="success"\} [1-9]`)
	for {
		if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
			body := readAll(resp)
			if len(rotated.FindAllString(body, -1)) >= 2 && revoked.MatchString(body) {
				break
			}
		}
		if r, err := http.Get("http://" + addr + "/status"); err == nil {
			r.Body.Close()
		}
		select {
		case err := <-exited:
			t.Fatalf("rotator exited under strace: %v", err)
		case <-deadline:
			t.Fatal("the demo did not rotate and keep alive both keys within 90s")
		case <-time.After(500 * time.Millisecond):
		}
	}
	// SIGTERM to the daemon: the shutdown path is traced too.
	if err := syscall.Kill(daemonPID(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
	case <-time.After(30 * time.Second):
		t.Fatal("rotator did not exit within 30s of SIGTERM")
	}

	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	call := regexp.MustCompile(`^\d+\s+([a-z0-9_]+)\(`)
	sock := regexp.MustCompile(`socket\((AF_[A-Z0-9]+)`)
	used := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if m := call.FindStringSubmatch(line); m != nil {
			used[m[1]] = true
		}
		if m := sock.FindStringSubmatch(line); m != nil && !families[m[1]] {
			t.Errorf("the daemon opens an %s socket, which RestrictAddressFamilies= forbids: %s", m[1], line)
		}
	}
	// The dynamic loader's calls: this binary is static, but be exact.
	delete(used, "execve")
	var blocked []string
	for s := range used {
		if !allowed[s] {
			blocked = append(blocked, s)
		}
	}
	sort.Strings(blocked)
	t.Logf("the daemon made %d distinct system calls; SystemCallFilter= allows %d", len(used), len(allowed))
	if len(used) < 20 {
		t.Fatalf("only %d system calls traced: strace did not follow the daemon", len(used))
	}
	if len(blocked) > 0 {
		t.Errorf("rotator.service's SystemCallFilter= would refuse (EPERM) these calls the daemon makes: %q", blocked)
	}
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b := new(strings.Builder)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
