//go:build !failpoints

package main

import "go.uber.org/zap"

// testHooks is inert in the shipped build: it reads no environment
// variable, so no failpoint or test knob exists in the binary. The e2e
// tests build with -tags failpoints (failpoint_on.go).
func testHooks(*zap.Logger) hooks { return hooks{} }
