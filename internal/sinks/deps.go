package sinks

import (
	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
)

// Deps is what the wiring hands every sink constructor.
type Deps struct {
	// Name is the sink's configured name ("vault"); it is the `sink` metric
	// label.
	Name string
	// Logger is already scoped with the sink's name. Never nil.
	Logger *zap.Logger
	// Clock for token renewal and timestamps. Never nil.
	Clock clockwork.Clock
	// UserAgent is "rotator/<version>", for sinks that speak HTTP.
	UserAgent string
}
