// Package e2e proves rotator survives from the outside: it builds the real
// binary once, runs it as a daemon against the smtpd.dev and Emailit test
// servers and real file sinks while a consumer probe checks, every 100 ms,
// that every credential a sink holds is valid at the provider; and it kills
// the process (SIGKILL at every lifecycle boundary and at random moments),
// injects provider and sink faults, feeds hostile input, and searches every
// log line, error, --status output, /metrics body and state file for the
// credentials the test servers issued.
//
// Each test prints its figures on one line starting with "E2E-FIGURES"
// (key=value pairs) so that docs/reliability.md can be regenerated:
//
//	go test -count=1 -v ./internal/e2e/ | grep E2E-FIGURES
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rotator-dev/rotator/internal/testing/vaulttest"
)

// bin is the rotator binary built for this test run, with the test hooks
// (-tags failpoints: ROTATOR_FAILPOINT, ROTATOR_TEST_RETRY_*) that the
// shipped binary does not have.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rotator-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "rotator")
	build := exec.Command("go", "build", "-tags", "failpoints", "-o", bin, "github.com/rotator-dev/rotator/cmd/rotator")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build ./cmd/rotator:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	vaulttest.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}
