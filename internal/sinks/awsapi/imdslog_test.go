package awsapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

// The parts of the SDK that LoadDefaultConfig builds, such as the
// instance metadata client of the credential chain, log through zap too:
// they copied the SDK's default stderr logger at load time, so setting
// aws.Config.Logger afterwards left their "SDK ... WARN falling back to
// IMDSv1" lines in the middle of the JSON log stream.
func TestIMDSClientLogsGoThroughZap(t *testing.T) {
	isolate(t)
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound) // no IMDSv2 token, no role
	}))
	defer imds.Close()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	core, logs := observer.New(zap.DebugLevel)
	awsCfg, err := awsapi.Connect(awsapi.Config{Region: "eu-west-1", MaxAttempts: 1}, sinks.Deps{Name: "aws", Logger: zap.New(core)}, "aws-ssm")
	if err != nil {
		t.Fatalf("awsapi.Connect: %v", err)
	}
	if _, err := awsCfg.Credentials.Retrieve(t.Context()); err == nil {
		t.Fatal("credentials retrieved from an IMDS without a role")
	}
	var found bool
	for _, l := range logs.FilterMessage("aws sdk").All() {
		if d, _ := l.ContextMap()["detail"].(string); strings.HasPrefix(d, "falling back to IMDSv1") {
			found = l.Level == zap.WarnLevel
		}
	}
	if !found {
		t.Errorf("no warn 'aws sdk' line 'falling back to IMDSv1' through zap: %v", logs.All())
	}
}
