package awsapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

// TestConfiguredEndpointWinsOverTheServiceEnvironment: the sink's
// endpoint goes where AWS_ENDPOINT_URL_SSM cannot override it; without
// one, the SDK's own endpoint settings apply.
func TestConfiguredEndpointWinsOverTheServiceEnvironment(t *testing.T) {
	isolate(t)
	ours := &recorder{status: http.StatusOK, body: `{"Parameters":[]}`}
	env := &recorder{status: http.StatusOK, body: `{"Parameters":[]}`}
	oursSrv, envSrv := httptest.NewServer(ours), httptest.NewServer(env)
	defer oursSrv.Close()
	defer envSrv.Close()
	t.Setenv("AWS_ENDPOINT_URL_SSM", envSrv.URL)
	creds := credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key-value", "")

	cfg := awsapi.Config{Region: "eu-west-1", Endpoint: oursSrv.URL, Credentials: creds}
	_, err := client(t, cfg, "").GetParameters(t.Context(), &ssm.GetParametersInput{Names: []string{"/a"}})
	if err != nil {
		t.Fatalf("client(t, cfg, \"\").GetParameters: %v", err)
	}
	if ours.calls != 1 {
		t.Fatalf("ours.calls = %v, want %v", ours.calls, 1)
	}
	if env.calls != 0 {
		t.Fatalf("env.calls = %v, want zero", env.calls)
	}

	cfg.Endpoint = ""
	_, err = client(t, cfg, "").GetParameters(t.Context(), &ssm.GetParametersInput{Names: []string{"/a"}})
	if err != nil {
		t.Fatalf("client(t, cfg, \"\").GetParameters: %v", err)
	}
	if env.calls != 1 {
		t.Fatalf("env.calls = %v, want %v", env.calls, 1)
	}
}

func TestConnectNamesTheSink(t *testing.T) {
	isolate(t)
	_, err := awsapi.Connect(awsapi.Config{}, sinks.Deps{Name: "ssm"}, "aws-ssm")
	if err == nil || !strings.Contains(err.Error(), "aws-ssm sink ssm: no region") {
		t.Fatalf("awsapi.Connect: got error %v, want one containing %q", err, "aws-ssm sink ssm: no region")
	}
}

// TestTargetsCheckRunsEveryTarget: Check runs every bound target, also
// after one fails, and joins the failures.
func TestTargetsCheckRunsEveryTarget(t *testing.T) {
	var ts awsapi.Targets[string]
	if err := ts.Check(t.Context(), func(string, context.Context) error { return errors.New("never called") }); err != nil {
		t.Fatalf("ts.Check: %v", err)
	}
	for _, name := range []string{"a", "b", "c"} {
		if got := ts.Add(name); got != name {
			t.Fatalf("ts.Add(name) = %q, want %q", got, name)
		}
	}
	var ran []string
	err := ts.Check(t.Context(), func(name string, _ context.Context) error {
		ran = append(ran, name)
		if name == "b" {
			return nil
		}
		return errors.New("check " + name + ": denied")
	})
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(want, ran) {
		t.Fatalf("ran = %+v, want %+v", ran, want)
	}
	if err == nil || err.Error() != "check a: denied\ncheck c: denied" {
		t.Fatalf("got error %v, want %q", err, "check a: denied\ncheck c: denied")
	}
}
