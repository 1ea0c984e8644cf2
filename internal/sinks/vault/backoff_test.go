package vault

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryBackoffHonoursRetryAfterAndCaps(t *testing.T) {
	resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": []string{"7"}}}
	if got := retryBackoff(time.Second, 2*time.Second, 0, resp); got != 7*time.Second {
		t.Errorf("with Retry-After: %s, want 7s", got)
	}
	for attempt := range 6 {
		if got := retryBackoff(time.Second, 2*time.Second, attempt, nil); got < time.Second/2 || got > 2*time.Second {
			t.Errorf("attempt %d: %s, want within [0.5s, 2s]", attempt, got)
		}
	}
}
