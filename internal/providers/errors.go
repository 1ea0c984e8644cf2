package providers

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Reason classifies a provider failure so that the engine can decide what
// to retry. Its string is used as a metric label.
type Reason string

// The reasons a provider call fails.
const (
	ReasonAuth        Reason = "auth"         // 401/403: the management or tested credential is rejected
	ReasonRateLimited Reason = "rate_limited" // 429: retry after RetryAfter
	ReasonNotFound    Reason = "not_found"    // 404: the key does not exist
	ReasonConflict    Reason = "conflict"     // 409: a key with this name already exists
	ReasonServer      Reason = "server"       // 5xx: retry with backoff
	ReasonClient      Reason = "client"       // other 4xx, or a response that cannot be decoded
	ReasonTimeout     Reason = "timeout"      // deadline exceeded or the connection dropped: the outcome is unknown
	ReasonUnreachable Reason = "unreachable"  // the connection was refused: the request was not sent
)

// Error is a classified provider failure. Its message names the operation
// and the HTTP status and never includes credential material.
type Error struct {
	Op     string // "create", "list", "revoke", "get", "test", "verify", "login"
	Reason Reason
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	// Code is the provider's own error code, if any (smtpd: 40102).
	Code string
	// Message is the provider's error message, with any credential removed.
	Message string
	// RetryAfter is the delay the provider asked for on a 429, if any.
	RetryAfter time.Duration
	// Attempts is how many times the request was sent, when more than
	// once: the error of a retried request says so ("after 3 attempts"),
	// so that one log line tells the whole failure.
	Attempts int
	Err      error
}

func (e *Error) Error() string {
	s := e.Op + ": " + string(e.Reason)
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d", e.Status)
		if e.Code != "" {
			s += ", code " + e.Code
		}
		s += ")"
	}
	if e.Attempts > 1 {
		s += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the reason of the first *Error in err's chain, or
// ReasonTimeout for a context deadline, or "" for nil.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Reason
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ReasonTimeout
	}
	return ReasonServer
}

// IsNotFound reports whether err says the key does not exist.
func IsNotFound(err error) bool { return ReasonOf(err) == ReasonNotFound }

// Retryable reports whether a failed call may succeed if tried again later
// with the same input: rate limits, server errors, timeouts and refused
// connections.
func Retryable(err error) bool {
	switch ReasonOf(err) {
	case ReasonRateLimited, ReasonServer, ReasonTimeout, ReasonUnreachable:
		return true
	}
	return false
}
