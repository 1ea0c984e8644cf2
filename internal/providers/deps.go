package providers

import (
	"net/http"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
)

// Deps is what the wiring hands every provider constructor.
type Deps struct {
	// Name is the provider's configured name ("smtpd-prod"); it is the
	// `provider` metric label.
	Name string
	// Logger is already scoped with the provider's name. Never nil.
	Logger *zap.Logger
	// Clock drives token expiry, rate limiting and backoff. Never nil.
	Clock clockwork.Clock
	// UserAgent is sent with every request: "rotator/<version>".
	UserAgent string
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
