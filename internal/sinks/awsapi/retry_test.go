package awsapi_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
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
	if err != nil {
		t.Fatalf("awsapi.Connect: %v", err)
	}
	c := ssm.NewFromConfig(awsCfg, func(o *ssm.Options) { awsapi.ClientOptions(cfg, &o.BaseEndpoint, &o.HTTPClient) })
	_, err = c.GetParameters(t.Context(), &ssm.GetParametersInput{Names: []string{"/a"}})
	if err == nil || !strings.Contains(err.Error(), "exceeded maximum number of attempts, 2") {
		t.Fatalf("c.GetParameters: got error %v, want one containing %q", err, "exceeded maximum number of attempts, 2")
	}
	if rec.calls != 2 {
		t.Fatalf("rec.calls = %v, want %v", rec.calls, 2)
	}
	retries := logs.FilterMessage("aws request failed; retrying").All()
	if len(retries) != 1 {
		t.Fatalf("len(retries) = %d, want %d: %+v", len(retries), 1, retries)
	}
	if retries[0].Level != zapcore.InfoLevel {
		t.Fatalf("retries[0].Level = %v, want %v", retries[0].Level, zapcore.InfoLevel)
	}
	f := retries[0].ContextMap()
	if f["retry_in"].(time.Duration) <= 0 {
		t.Fatalf("f[\"retry_in\"].(time.Duration) = %v, want a positive value", f["retry_in"].(time.Duration))
	}
	if want := map[string]any{"attempt": int64(1), "max_attempts": int64(2), "status": int64(500),
		"aws_error_code": "InternalServerError", "retry_in": f["retry_in"]}; !reflect.DeepEqual(want, f) {
		t.Fatalf("f = %+v, want %+v", f, want)
	}
}
