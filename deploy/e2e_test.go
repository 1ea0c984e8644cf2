package deploy

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
