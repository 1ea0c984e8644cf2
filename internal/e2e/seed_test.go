package e2e

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// testSeed is the seed of a test's random choices (kill moments, restart
// times): ROTATOR_TEST_SEED when set, to replay a failure, else a fresh
// one. It is logged either way; call it at the start of the test.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ROTATOR_TEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ROTATOR_TEST_SEED=%q: want an unsigned integer", s)
		}
		seed = v
	}
	t.Logf("random seed %d (ROTATOR_TEST_SEED=%d replays it)", seed, seed)
	return seed
}
