package rotate

import "testing"

// A forced pass (--run-now) that rotates a key tests the new key once (the
// verify step) and does not force a keep-alive of that same key at once;
// a forced pass that does not rotate it (--key selecting another) still
// keeps it alive.
func TestForcedRotationTestsTheNewKeyOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.mustEval(Mode{})
	tests := h.prov.Calls("test")
	out := h.mustEval(Mode{Force: true, IgnoreBackoff: true})
	if !out.Rotated || out.KeptAlive {
		t.Fatalf("rotated=%v kept alive=%v, want a rotation and no extra keep-alive", out.Rotated, out.KeptAlive)
	}
	if got := h.prov.Calls("test") - tests; got != 1 {
		t.Errorf("the forced rotation made %d Test calls, want 1 (verify)", got)
	}
	if got := h.state().LastKeepAliveAt; !got.Equal(h.clock.Now()) {
		t.Errorf("last keep-alive = %s, want now (the verify counts)", got)
	}
	tests = h.prov.Calls("test")
	out = h.mustEval(Mode{NoRotate: true, IgnoreBackoff: true})
	// Two Test calls: the current key, and the previous one, still in grace
	// (the in-memory sinks keep history, as Vault KV v2 does).
	if out.Rotated || !out.KeptAlive || h.prov.Calls("test")-tests != 2 {
		t.Errorf("unselected key: rotated=%v kept alive=%v tests=%d, want keep-alives of the current key and the key in grace", out.Rotated, out.KeptAlive, h.prov.Calls("test")-tests)
	}
}
