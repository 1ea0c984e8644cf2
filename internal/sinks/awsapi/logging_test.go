package awsapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/logging"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

// TestSDKLogsGoThroughZap: the aws.Config an AWS sink builds logs through
// the sink's zap logger; the SDK's default wrote "SDK ... WARN" lines to
// stderr, into the JSON log stream.
func TestSDKLogsGoThroughZap(t *testing.T) {
	isolate(t)
	core, logs := observer.New(zap.DebugLevel)
	awsCfg, err := awsapi.Connect(awsapi.Config{Region: "eu-west-1"}, sinks.Deps{Name: "aws", Logger: zap.New(core)}, "aws-ssm")
	require.NoError(t, err)
	awsCfg.Logger.Logf(logging.Warn, "Response has no supported checksum. Not validating response payload.")
	awsCfg.Logger.Logf(logging.Debug, "retrying request %s, attempt %d", "GetParameters", 2)
	all := logs.All()
	require.Len(t, all, 2)
	require.Equal(t, zap.WarnLevel, all[0].Level)
	require.Equal(t, "aws sdk", all[0].Message)
	require.Equal(t, "Response has no supported checksum. Not validating response payload.", all[0].ContextMap()["detail"])
	require.Equal(t, zap.DebugLevel, all[1].Level)
	require.Equal(t, "retrying request GetParameters, attempt 2", all[1].ContextMap()["detail"])
}

// TestCredentialChainFailureNamesTheSources: with no credentials anywhere,
// the error of a call lists the sources the default chain tried, not only
// the SDK's last one (IMDS).
func TestCredentialChainFailureNamesTheSources(t *testing.T) {
	isolate(t)
	rec := &recorder{status: http.StatusOK, body: `{}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	cfg := awsapi.Config{Region: "eu-west-1", Endpoint: srv.URL, MaxAttempts: 1}
	awsCfg, err := awsapi.Load(awsapi.Config{Region: "eu-west-1", MaxAttempts: 1}, "")
	require.NoError(t, err)
	c := ssm.NewFromConfig(awsCfg, func(o *ssm.Options) { awsapi.ClientOptions(cfg, &o.BaseEndpoint, &o.HTTPClient) })
	_, err = c.GetParameters(t.Context(), &ssm.GetParametersInput{Names: []string{"/a"}})
	require.Error(t, err)
	require.Contains(t, err.Error(), `get AWS credentials (tried environment (AWS_ACCESS_KEY_ID not set), shared profile "default" (`)
	require.Contains(t, err.Error(), `web identity (AWS_WEB_IDENTITY_TOKEN_FILE not set), container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI not set), EC2 instance metadata (IMDS), disabled by AWS_EC2_METADATA_DISABLED): `)
	require.Zero(t, rec.calls, "no request without credentials")
}
