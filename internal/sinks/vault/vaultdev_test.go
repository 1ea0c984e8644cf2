package vault_test

import (
	"os"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/rotator-dev/rotator/internal/testing/vaulttest"
)

// devVault is the real Vault of internal/testing/vaulttest (KV v2 at
// secret/, KV v1 at kv1/, AppRole and Kubernetes auth), shared by this
// package's tests.
type devVault struct {
	*vaulttest.Server
	root *api.Client
}

var tmpDirs []string // removed after the tests

func TestMain(m *testing.M) {
	code := m.Run()
	vaulttest.StopShared()
	for _, d := range tmpDirs {
		_ = os.RemoveAll(d)
	}
	os.Exit(code)
}

// vaultDev returns the shared Vault, starting it on first use; it fails
// the test under CI=true when Vault cannot be had, and skips loudly
// otherwise.
func vaultDev(t testing.TB) *devVault {
	t.Helper()
	s := vaulttest.Require(t)
	return &devVault{Server: s, root: s.Root}
}
