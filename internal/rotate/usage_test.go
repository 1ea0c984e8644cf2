package rotate

import (
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
)

// unusedHarness rotates once (key A), then again (key B supersedes A), with
// revoke_when: unused, grace 1h, quiet 10m and max_grace 4h.
func unusedHarness(t *testing.T, onMax string) (h *harness, old string) {
	h = newHarness(t, func(k *config.Key) {
		k.KeepAlive = 0
		k.Revocation = config.Revocation{When: config.RevokeWhenUnused, Quiet: 10 * time.Minute, MaxGrace: 4 * time.Hour, OnMaxGrace: onMax}
	})
	h.mustEval(Mode{})
	old = h.state().Current.ID
	h.clock.Advance(24 * time.Hour)
	h.mustEval(Mode{})
	return h, old
}

// evalFor evaluates every minute for d, as the scheduler would wake it.
func (h *harness) evalFor(d time.Duration, each func()) {
	for end := h.clock.Now().Add(d); h.clock.Now().Before(end); {
		h.clock.Advance(time.Minute)
		if each != nil {
			each()
		}
		h.eval(Mode{})
	}
}

func (h *harness) active(id string) bool {
	info, _ := h.prov.Get(id)
	return info.Active
}

// A consumer that keeps using the old key holds its revocation past grace;
// the key is revoked `quiet` after the consumer moves to the new one.
func TestUnusedHoldsRevocationWhileTheOldKeyIsUsed(t *testing.T) {
	h, old := unusedHarness(t, config.OnMaxGraceRevoke)
	use := func() { _, _ = h.prov.Touch(old) }
	h.evalFor(2*time.Hour, use) // a slow consumer, past the 1h grace
	if !h.active(old) {
		t.Fatal("the old key was revoked while a consumer still used it")
	}
	moved := h.clock.Now()
	gets := h.prov.Calls("get")
	h.evalFor(9*time.Minute, nil)
	if !h.active(old) {
		t.Fatal("the old key was revoked before quiet (10m) had passed since its last use")
	}
	h.evalFor(3*time.Minute, nil)
	if h.active(old) {
		t.Fatalf("the old key is still active %s after its last use (quiet 10m)", h.clock.Since(moved))
	}
	if n := h.prov.Calls("get") - gets; n > 3 {
		t.Errorf("%d usage checks in 12 minutes, want at most 3 (one per quiet period, one to confirm)", n)
	}
	h.checkSafety("after the revocation")
}

// At max_grace a key still in use is revoked anyway, or kept with
// on_max_grace: keep.
func TestUnusedAtMaxGrace(t *testing.T) {
	for _, onMax := range []string{config.OnMaxGraceRevoke, config.OnMaxGraceKeep} {
		t.Run(onMax, func(t *testing.T) {
			h, old := unusedHarness(t, onMax)
			h.evalFor(4*time.Hour+2*time.Minute, func() { _, _ = h.prov.Touch(old) })
			if want := onMax == config.OnMaxGraceKeep; h.active(old) != want {
				t.Errorf("old key active = %v at max_grace, want %v", h.active(old), want)
			}
			if onMax == config.OnMaxGraceRevoke && len(h.logs.FilterMessageSnippet("max_grace").All()) == 0 {
				t.Error("no error log says the key was revoked at max_grace")
			}
		})
	}
}

// rotator itself never uses a superseded key under unused (no keep-alive
// in grace), or it would mask its consumers.
func TestUnusedDoesNotKeepSupersededKeysAlive(t *testing.T) {
	h, old := unusedHarness(t, config.OnMaxGraceRevoke)
	h.e.keys["mail"].k.Policy.KeepAlive = 10 * time.Minute
	superseded := h.clock.Now()
	h.evalFor(50*time.Minute, nil)
	if info, _ := h.prov.Get(old); info.LastUsedAt.After(superseded) {
		t.Errorf("the superseded key was used at %s by rotator itself", info.LastUsedAt)
	}
}

// A revocation at max_grace is counted under result="max_grace".
func TestMaxGraceRevocationIsCounted(t *testing.T) {
	h, old := unusedHarness(t, config.OnMaxGraceRevoke)
	h.evalFor(4*time.Hour+2*time.Minute, func() { _, _ = h.prov.Touch(old) })
	if got := h.e.m.keyValue("rotator_revocations_total", "mail", "max_grace"); got != 1 {
		t.Errorf("rotator_revocations_total{result=max_grace} = %v, want 1", got)
	}
}
