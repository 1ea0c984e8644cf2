// Package vaulttest runs a real Vault for tests: the in-memory Vault core
// of internal/testing/vaultdev (its own Go module, so that Vault's heavy
// dependencies stay out of the product), started as a process. KV v2 is
// mounted at secret/, KV v1 at kv1/, with AppRole and Kubernetes auth.
//
// The binary comes from ROTATOR_VAULTDEV_BIN (scripts/test builds it), or
// is built on first use. When it cannot be had, Require fails the test
// under CI=true and skips it loudly otherwise.
package vaulttest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// Server is a running Vault.
type Server struct {
	Address                  string `json:"address"`
	RootToken                string `json:"root_token"`
	KubernetesJWT            string `json:"kubernetes_jwt"`
	KubernetesServiceAccount string `json:"kubernetes_service_account"`

	// Root is a client with the root token.
	Root *api.Client

	cmd    *exec.Cmd
	in     io.WriteCloser
	tmp    []string
	logDir string
}

var (
	once    sync.Once
	shared  *Server
	errBoot error
)

// Require returns the process-wide Vault, starting it on first use. Call
// Stop from TestMain (or leave it: the server exits when its stdin closes
// with the test process).
func Require(t testing.TB) *Server {
	t.Helper()
	once.Do(func() { shared, errBoot = Start() })
	if errBoot != nil {
		msg := "REAL VAULT UNAVAILABLE, Vault integration tests not run: " + errBoot.Error() +
			"\n(build it: cd internal/testing/vaultdev && go build -o /tmp/vaultdev . && export ROTATOR_VAULTDEV_BIN=/tmp/vaultdev)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return shared
}

// StopShared stops the process-wide Vault if it was started.
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

// Start builds (if needed) and starts a new Vault.
func Start() (*Server, error) {
	s := &Server{}
	bin := os.Getenv("ROTATOR_VAULTDEV_BIN")
	if bin == "" {
		dir, err := os.MkdirTemp("", "vaultdev-bin-")
		if err != nil {
			return nil, err
		}
		s.tmp = append(s.tmp, dir)
		bin = filepath.Join(dir, "vaultdev")
		_, here, _, _ := runtime.Caller(0)
		src := filepath.Join(filepath.Dir(here), "..", "vaultdev")
		build := exec.Command("go", "build", "-o", bin, ".")
		build.Dir = src
		build.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		if out, err := build.CombinedOutput(); err != nil {
			s.cleanup()
			return nil, fmt.Errorf("go build %s: %v\n%s", src, err, out)
		}
	}
	logDir, err := os.MkdirTemp("", "vaultdev-log-")
	if err != nil {
		return nil, err
	}
	s.logDir = logDir
	logFile, err := os.Create(filepath.Join(logDir, "vault.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	s.cmd = exec.Command(bin)
	s.cmd.Stderr = logFile // Vault's own log, kept out of test output
	if s.in, err = s.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- l
		_, _ = io.Copy(io.Discard, out)
	}()
	var first string
	select {
	case first = <-line:
	case <-time.After(2 * time.Minute):
	}
	if err := json.Unmarshal([]byte(first), s); err != nil || s.Address == "" {
		s.Stop()
		return nil, fmt.Errorf("%s did not print its address (got %q; its log is %s)", bin, strings.TrimSpace(first), logFile.Name())
	}
	cfg := api.DefaultConfig()
	cfg.Address = s.Address
	c, err := api.NewClient(cfg)
	if err != nil {
		s.Stop()
		return nil, err
	}
	c.SetToken(s.RootToken)
	s.Root = c
	s.tmp = append(s.tmp, logDir)
	return s, nil
}

// Stop ends the server and removes its temporary files.
func (s *Server) Stop() {
	if s.in != nil {
		_ = s.in.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	}
	s.cleanup()
}

func (s *Server) cleanup() {
	for _, d := range s.tmp {
		_ = os.RemoveAll(d)
	}
}
