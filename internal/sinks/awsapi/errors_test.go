package awsapi_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

func TestCallErrorDescribesTheCall(t *testing.T) {
	apiErr := &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "Secrets Manager can't find the specified secret."}
	err := awsapi.NewCallError("describe secret", "prod/mail", fmt.Errorf("operation error: %w", apiErr), nil)
	require.EqualError(t, err, "describe secret prod/mail: ResourceNotFoundException: Secrets Manager can't find the specified secret.")
	require.Equal(t, "ResourceNotFoundException", awsapi.ErrorCode(err))
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "unwraps to the SDK's error")

	err = awsapi.NewCallError("put parameter", "/p", &smithy.GenericAPIError{Code: "ThrottlingException"}, nil)
	require.EqualError(t, err, "put parameter /p: ThrottlingException", "no message, no colon")

	plain := errors.New("dial tcp 127.0.0.1:1: connection refused")
	err = awsapi.NewCallError("get parameters", "/a,/b", plain, nil)
	require.EqualError(t, err, "get parameters /a,/b: dial tcp 127.0.0.1:1: connection refused")
	require.ErrorIs(t, err, plain)
	require.Empty(t, awsapi.ErrorCode(err))
	require.Empty(t, awsapi.ErrorCode(nil))
}

func TestCallErrorScrubsTheValuesSent(t *testing.T) {
	secret := "very-secret-api-key-value"
	apiErr := &smithy.GenericAPIError{Code: "ValidationException", Message: "value '" + secret + "' at 'key' and 'abc' and 'x1-y' failed"}
	err := awsapi.NewCallError("put secret value", "mail/x", apiErr, map[string]string{"api_key": secret, "id": "abc", "n": "x1-y"})
	require.NotContains(t, err.Error(), secret)
	require.NotContains(t, err.Error(), "x1-y", "4 characters and more are scrubbed")
	require.Contains(t, err.Error(), "'abc'", "shorter values would scrub at random and are left")
	require.Contains(t, err.Error(), "<redacted>")
	require.Contains(t, err.Error(), "mail/x")

	// Scrubbing also covers a message that is not an AWS API error.
	err = awsapi.NewCallError("put parameter", "/p", errors.New("serialize "+secret), map[string]string{"k": secret})
	require.EqualError(t, err, "put parameter /p: serialize <redacted>")
}

// TestCallErrorGoStringHidesTheValuesSent: %#v (and %+v of a wrapping
// error) must not print Hide, which holds the secret values sent.
func TestCallErrorGoStringHidesTheValuesSent(t *testing.T) {
	const secret = "sk_live_sent_value"
	err := awsapi.NewCallError("put parameter", "/p", &smithy.GenericAPIError{Code: "ParameterAlreadyExists", Message: "exists"}, map[string]string{"key": secret})
	for _, s := range []string{fmt.Sprintf("%#v", err), fmt.Sprintf("%+v", fmt.Errorf("write: %w", err)), fmt.Sprintf("%#v", fmt.Errorf("write: %w", err))} {
		require.NotContains(t, s, secret)
	}
	require.Equal(t, `&awsapi.CallError{"put parameter /p: ParameterAlreadyExists: exists"}`, fmt.Sprintf("%#v", err))
}
