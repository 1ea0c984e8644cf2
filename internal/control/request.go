// Package control is the operator's way into a running daemon: the
// commands rotate, revoke, retire, pause, resume, reload, status and history sent
// as JSON over a unix socket beside the state file (mode 0600, peers
// checked with SO_PEERCRED) or over HTTP with a bearer token
// (control.listen). The daemon carries each command out with the same
// code the CLI uses when no daemon runs, and sends back what the CLI
// prints and its exit code, so that the operator sees the same either way.
package control

import (
	"context"
	"time"
)

// Request is one operator command.
type Request struct {
	// Command is rotate, revoke, retire, pause, resume, reload, status or
	// history.
	Command string   `json:"command"`
	Keys    []string `json:"keys,omitempty"`
	// RevokeOldNow (rotate) revokes every superseded key as soon as every
	// sink holds the new one; Superseded (revoke) ends their grace.
	RevokeOldNow bool `json:"revoke_old_now,omitempty"`
	Superseded   bool `json:"superseded,omitempty"`
	// Reason is the operator's text for the audit trail.
	Reason string `json:"reason,omitempty"`
	// JSON asks for machine output (status, history).
	JSON bool `json:"json,omitempty"`
	// Since bounds history to the last Since (0: everything kept).
	Since time.Duration `json:"since,omitempty"`
}

// Response is what the CLI prints and the exit code it returns.
type Response struct {
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	Exit   int    `json:"exit"`
}

// Handler carries out a request for actor ("cli:alice", "http:token").
type Handler func(ctx context.Context, actor string, req Request) Response
