// Package backend holds what the wiring hands every backend it builds, a
// provider (internal/providers) or a sink (internal/sinks): Deps.
package backend

import (
	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
)

// Deps is what the wiring hands every backend constructor. sinks.Deps is
// this type; providers.Deps adds what only providers' HTTP clients take.
type Deps struct {
	// Name is the backend's configured name ("smtpd-prod", "vault"); it is
	// the `provider` or `sink` metric label.
	Name string
	// Logger is already scoped with the backend's name. Never nil.
	Logger *zap.Logger
	// Clock drives token expiry and renewal, rate limiting, backoff and
	// timestamps. Never nil.
	Clock clockwork.Clock
	// UserAgent is "rotator/<version>", sent with every HTTP request.
	UserAgent string
}
