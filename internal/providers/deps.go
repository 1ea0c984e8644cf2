package providers

import (
	"net/http"
	"time"

	"github.com/rotator-dev/rotator/internal/backend"
)

// Deps is what the wiring hands every provider constructor: what every
// backend gets (name, logger, clock, user agent), and for its HTTP client
// an observer and, in tests, the client itself.
type Deps struct {
	backend.Deps
	// Observer records every HTTP request; may be nil.
	Observer RequestObserver
	// HTTPClient overrides the HTTP client (tests); nil means a client with
	// sane timeouts.
	HTTPClient *http.Client
}

// RequestObserver is told about every HTTP request a provider makes, for
// rotator_provider_requests_total{provider,code} and latency histograms.
// code is the HTTP status ("201", "429") or, when no response arrived,
// "timeout" or "error".
type RequestObserver interface {
	ObserveRequest(provider, op, code string, took time.Duration)
}
