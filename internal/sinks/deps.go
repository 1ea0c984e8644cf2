package sinks

import "github.com/rotator-dev/rotator/internal/backend"

// Deps is what the wiring hands every sink constructor: a sink needs no
// more than any backend.
type Deps = backend.Deps
