package awsapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/smithy-go"
)

// CallError is a failed AWS call, described by the operation, the resource
// (a secret, a parameter) and AWS's error code and message; the values sent
// never appear in it. It unwraps to the SDK's error.
type CallError struct {
	Op       string // what the sink was doing, such as "put secret value"
	Resource string // the secret or parameter(s) it was doing it to
	Err      error
	// Hide lists the values sent, scrubbed from AWS's message just in case
	// (values under 4 characters are left, they would scrub at random).
	Hide []string
}

// NewCallError describes err from op on resource; the values of sent are
// scrubbed from its message.
func NewCallError(op, resource string, err error, sent map[string]string) *CallError {
	ce := &CallError{Op: op, Resource: resource, Err: err}
	for _, v := range sent {
		ce.Hide = append(ce.Hide, v)
	}
	return ce
}

func (e *CallError) Error() string {
	var msg string
	var ae smithy.APIError
	if errors.As(e.Err, &ae) {
		msg = ae.ErrorCode()
		if m := ae.ErrorMessage(); m != "" {
			msg += ": " + m
		}
	} else {
		msg = e.Err.Error()
	}
	for _, h := range e.Hide {
		if len(h) >= 4 {
			msg = strings.ReplaceAll(msg, h, "<redacted>")
		}
	}
	return fmt.Sprintf("%s %s: %s", e.Op, e.Resource, msg)
}

func (e *CallError) Unwrap() error { return e.Err }

// GoString keeps %#v from printing Hide, the values sent.
func (e *CallError) GoString() string { return "&awsapi.CallError{" + strconv.Quote(e.Error()) + "}" }

// ErrorCode returns the AWS error code of err (such as
// "ResourceNotFoundException"), or "" when err carries none.
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
