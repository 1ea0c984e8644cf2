package awsssm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

// callError is a failed AWS call, described by the operation, the
// parameter and AWS's error code and message; the values sent never appear
// in it.
type callError struct {
	op, param string
	err       error
	hide      []string // values to scrub from AWS's message, just in case
}

func (e *callError) Error() string {
	var msg string
	var ae smithy.APIError
	if errors.As(e.err, &ae) {
		msg = ae.ErrorCode()
		if m := ae.ErrorMessage(); m != "" {
			msg += ": " + m
		}
	} else {
		msg = e.err.Error()
	}
	for _, h := range e.hide {
		if len(h) >= 4 {
			msg = strings.ReplaceAll(msg, h, "<redacted>")
		}
	}
	return fmt.Sprintf("%s %s: %s", e.op, e.param, msg)
}

func (e *callError) Unwrap() error { return e.err }
