package awsapi_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/logging"
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
	if err != nil {
		t.Fatalf("awsapi.Connect: %v", err)
	}
	awsCfg.Logger.Logf(logging.Warn, "Response has no supported checksum. Not validating response payload.")
	awsCfg.Logger.Logf(logging.Debug, "retrying request %s, attempt %d", "GetParameters", 2)
	all := logs.All()
	if len(all) != 2 {
		t.Fatalf("len(all) = %d, want %d: %+v", len(all), 2, all)
	}
	if all[0].Level != zap.WarnLevel {
		t.Fatalf("all[0].Level = %v, want %v", all[0].Level, zap.WarnLevel)
	}
	if all[0].Message != "aws sdk" {
		t.Fatalf("all[0].Message = %q, want %q", all[0].Message, "aws sdk")
	}
	if got := all[0].ContextMap()["detail"]; !reflect.DeepEqual("Response has no supported checksum. Not validating response payload.", got) {
		t.Fatalf("all[0].ContextMap()[\"detail\"] = %+v, want %+v", got, "Response has no supported checksum. Not validating response payload.")
	}
	if all[1].Level != zap.DebugLevel {
		t.Fatalf("all[1].Level = %v, want %v", all[1].Level, zap.DebugLevel)
	}
	if got := all[1].ContextMap()["detail"]; !reflect.DeepEqual("retrying request GetParameters, attempt 2", got) {
		t.Fatalf("all[1].ContextMap()[\"detail\"] = %+v, want %+v", got, "retrying request GetParameters, attempt 2")
	}
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
	if err != nil {
		t.Fatalf("awsapi.Load: %v", err)
	}
	c := ssm.NewFromConfig(awsCfg, func(o *ssm.Options) { awsapi.ClientOptions(cfg, &o.BaseEndpoint, &o.HTTPClient) })
	_, err = c.GetParameters(t.Context(), &ssm.GetParametersInput{Names: []string{"/a"}})
	if err == nil {
		t.Fatalf("c.GetParameters: got no error, want one")
	}
	if got := err.Error(); !strings.Contains(got, `get AWS credentials (tried environment (AWS_ACCESS_KEY_ID not set), shared profile "default" (`) {
		t.Fatalf("got %q, want it to contain %q", got, `get AWS credentials (tried environment (AWS_ACCESS_KEY_ID not set), shared profile "default" (`)
	}
	if got := err.Error(); !strings.Contains(got, `web identity (AWS_WEB_IDENTITY_TOKEN_FILE not set), container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI not set), EC2 instance metadata (IMDS), disabled by AWS_EC2_METADATA_DISABLED): `) {
		t.Fatalf("got %q, want it to contain %q", got, `web identity (AWS_WEB_IDENTITY_TOKEN_FILE not set), container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI not set), EC2 instance metadata (IMDS), disabled by AWS_EC2_METADATA_DISABLED): `)
	}
	if rec.calls != 0 {
		t.Fatalf("no request without credentials: got %v, want zero", rec.calls)
	}
}
