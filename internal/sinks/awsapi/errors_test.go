package awsapi_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

func TestCallErrorDescribesTheCall(t *testing.T) {
	apiErr := &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "Secrets Manager can't find the specified secret."}
	err := awsapi.NewCallError("describe secret", "prod/mail", fmt.Errorf("operation error: %w", apiErr), nil)
	if err == nil || err.Error() != "describe secret prod/mail: ResourceNotFoundException: Secrets Manager can't find the specified secret." {
		t.Fatalf("awsapi.NewCallError: got error %v, want %q", err, "describe secret prod/mail: ResourceNotFoundException: Secrets Manager can't find the specified secret.")
	}
	if got := awsapi.ErrorCode(err); got != "ResourceNotFoundException" {
		t.Fatalf("awsapi.ErrorCode(err) = %q, want %q", got, "ResourceNotFoundException")
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("unwraps to the SDK's error: got false, want true")
	}

	err = awsapi.NewCallError("put parameter", "/p", &smithy.GenericAPIError{Code: "ThrottlingException"}, nil)
	if err == nil || err.Error() != "put parameter /p: ThrottlingException" {
		t.Fatalf("no message, no colon: got error %v, want %q", err, "put parameter /p: ThrottlingException")
	}

	plain := errors.New("dial tcp 127.0.0.1:1: connection refused")
	err = awsapi.NewCallError("get parameters", "/a,/b", plain, nil)
	if err == nil || err.Error() != "get parameters /a,/b: dial tcp 127.0.0.1:1: connection refused" {
		t.Fatalf("awsapi.NewCallError: got error %v, want %q", err, "get parameters /a,/b: dial tcp 127.0.0.1:1: connection refused")
	}
	if !errors.Is(err, plain) {
		t.Fatalf("got error %v, want one that is %v", err, plain)
	}
	if got := awsapi.ErrorCode(err); got != "" {
		t.Fatalf("awsapi.ErrorCode(err) = %q, want empty", got)
	}
	if got := awsapi.ErrorCode(nil); got != "" {
		t.Fatalf("awsapi.ErrorCode(nil) = %q, want empty", got)
	}
}

func TestCallErrorScrubsTheValuesSent(t *testing.T) {
	secret := "very-secret-api-key-value"
	apiErr := &smithy.GenericAPIError{Code: "ValidationException", Message: "value '" + secret + "' at 'key' and 'abc' and 'x1-y' failed"}
	err := awsapi.NewCallError("put secret value", "mail/x", apiErr, map[string]string{"api_key": secret, "id": "abc", "n": "x1-y"})
	if got := err.Error(); strings.Contains(got, secret) {
		t.Fatalf("got %q, want it not to contain %q", got, secret)
	}
	if got := err.Error(); strings.Contains(got, "x1-y") {
		t.Fatalf("4 characters and more are scrubbed: got %q, want it not to contain %q", got, "x1-y")
	}
	if got := err.Error(); !strings.Contains(got, "'abc'") {
		t.Fatalf("shorter values would scrub at random and are left: got %q, want it to contain %q", got, "'abc'")
	}
	if got := err.Error(); !strings.Contains(got, "<redacted>") {
		t.Fatalf("got %q, want it to contain %q", got, "<redacted>")
	}
	if got := err.Error(); !strings.Contains(got, "mail/x") {
		t.Fatalf("got %q, want it to contain %q", got, "mail/x")
	}

	// Scrubbing also covers a message that is not an AWS API error.
	err = awsapi.NewCallError("put parameter", "/p", errors.New("serialize "+secret), map[string]string{"k": secret})
	if err == nil || err.Error() != "put parameter /p: serialize <redacted>" {
		t.Fatalf("awsapi.NewCallError: got error %v, want %q", err, "put parameter /p: serialize <redacted>")
	}
}

// TestCallErrorGoStringHidesTheValuesSent: %#v (and %+v of a wrapping
// error) must not print Hide, which holds the secret values sent.
func TestCallErrorGoStringHidesTheValuesSent(t *testing.T) {
	const secret = "sk_live_sent_value"
	err := awsapi.NewCallError("put parameter", "/p", &smithy.GenericAPIError{Code: "ParameterAlreadyExists", Message: "exists"}, map[string]string{"key": secret})
	for _, s := range []string{fmt.Sprintf("%#v", err), fmt.Sprintf("%+v", fmt.Errorf("write: %w", err)), fmt.Sprintf("%#v", fmt.Errorf("write: %w", err))} {
		if strings.Contains(s, secret) {
			t.Fatalf("got %q, want it not to contain %q", s, secret)
		}
	}
	if got := fmt.Sprintf("%#v", err); got != `&awsapi.CallError{"put parameter /p: ParameterAlreadyExists: exists"}` {
		t.Fatalf("fmt.Sprintf(\"%%#v\", err) = %q, want %q", got, `&awsapi.CallError{"put parameter /p: ParameterAlreadyExists: exists"}`)
	}
}
