package vault_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// devVault is a real Vault (internal/testing/vaultdev) run as a process
// for this package's tests: KV v2 at secret/, KV v1 at kv1/, AppRole and
// Kubernetes auth.
type devVault struct {
	Address                  string `json:"address"`
	RootToken                string `json:"root_token"`
	KubernetesJWT            string `json:"kubernetes_jwt"`
	KubernetesServiceAccount string `json:"kubernetes_service_account"`

	root *api.Client
	cmd  *exec.Cmd
	in   io.WriteCloser
}

var (
	devOnce sync.Once
	dev     *devVault
	devErr  error
	tmpDirs []string // removed after the tests
)

func TestMain(m *testing.M) {
	code := m.Run()
	if dev != nil {
		dev.stop()
	}
	for _, d := range tmpDirs {
		_ = os.RemoveAll(d)
	}
	os.Exit(code)
}

// vaultDev returns the shared Vault, starting it on first use. When the
// server cannot be built or started the test fails if CI=true and is
// skipped, loudly, otherwise.
func vaultDev(t testing.TB) *devVault {
	t.Helper()
	devOnce.Do(func() { dev, devErr = startVaultDev() })
	if devErr != nil {
		msg := "REAL VAULT UNAVAILABLE, Vault integration tests not run: " + devErr.Error() +
			"\n(build it with: cd internal/testing/vaultdev && go build -o /tmp/vaultdev . ; then set ROTATOR_VAULTDEV_BIN=/tmp/vaultdev)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dev
}

func startVaultDev() (*devVault, error) {
	bin := os.Getenv("ROTATOR_VAULTDEV_BIN")
	if bin == "" {
		dir, err := os.MkdirTemp("", "vaultdev-bin-")
		if err != nil {
			return nil, err
		}
		tmpDirs = append(tmpDirs, dir)
		bin = filepath.Join(dir, "vaultdev")
		src, err := filepath.Abs(filepath.Join("..", "..", "testing", "vaultdev"))
		if err != nil {
			return nil, err
		}
		build := exec.Command("go", "build", "-o", bin, ".")
		build.Dir = src
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %v\n%s", src, err, out)
		}
	}
	cmd := exec.Command(bin)
	logDir, err := os.MkdirTemp("", "vaultdev-log-")
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(logDir, "vault.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stderr = logFile // Vault's own log, kept out of the test output
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
		_, _ = io.Copy(io.Discard, out)
	}()
	var first string
	select {
	case first = <-line:
	case <-time.After(2 * time.Minute):
	}
	d := &devVault{cmd: cmd, in: in}
	if err := json.Unmarshal([]byte(first), d); err != nil || d.Address == "" {
		d.stop()
		return nil, fmt.Errorf("%s did not print its address (got %q; its log is %s)", bin, strings.TrimSpace(first), logFile.Name())
	}
	tmpDirs = append(tmpDirs, logDir) // kept only when Vault did not start
	cfg := api.DefaultConfig()
	cfg.Address = d.Address
	c, err := api.NewClient(cfg)
	if err != nil {
		d.stop()
		return nil, err
	}
	c.SetToken(d.RootToken)
	d.root = c
	return d, nil
}

func (d *devVault) stop() {
	_ = d.in.Close()
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
}
