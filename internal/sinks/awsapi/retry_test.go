package awsapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

// Each retry the SDK makes of a failing AWS call is logged at info as
// attempt n of max_attempts, with the status and AWS's error code; the
// give-up is the SDK's error, which names the attempts.
func TestRetriesAreLoggedAsAttemptNOfN(t *testing.T) {
	isolate(t)
	rec := &recorder{status: http.StatusInternalServerError, body: `{"__type":"InternalServerError","message":"boom"}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := awsapi.Config{Region: "eu-west-1", Endpoint: srv.URL, MaxAttempts: 2,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key-value", "")}
	awsCfg, err := awsapi.Connect(cfg, sinks.Deps{Name: "ssm", Logger: zap.New(core)}, "aws-ssm")
	require.NoError(t, err)
	c := ssm.NewFromConfig(awsCfg, func(o *ssm.Options) { awsapi.ClientOptions(cfg, &o.BaseEndpoint, &o.HTTPClient) })
	_, err = c.GetParameters(t.Context(), &ssm.GetParametersInput{Names: []string{"/a"}})
	require.ErrorContains(t, err, "exceeded maximum number of attempts, 2")
	require.Equal(t, 2, rec.calls)
	retries := logs.FilterMessage("aws request failed; retrying").All()
	require.Len(t, retries, 1)
	require.Equal(t, zapcore.InfoLevel, retries[0].Level)
	f := retries[0].ContextMap()
	require.Positive(t, f["retry_in"].(time.Duration))
	require.Equal(t, map[string]any{"attempt": int64(1), "max_attempts": int64(2), "status": int64(500),
		"aws_error_code": "InternalServerError", "retry_in": f["retry_in"]}, f)
}
