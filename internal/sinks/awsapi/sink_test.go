package awsapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
	require.Equal(t, 1, ours.calls)
	require.Zero(t, env.calls)

	cfg.Endpoint = ""
	_, err = client(t, cfg, "").GetParameters(t.Context(), &ssm.GetParametersInput{Names: []string{"/a"}})
	require.NoError(t, err)
	require.Equal(t, 1, env.calls)
}

func TestConnectNamesTheSink(t *testing.T) {
	isolate(t)
	_, err := awsapi.Connect(awsapi.Config{}, sinks.Deps{Name: "ssm"}, "aws-ssm")
	require.ErrorContains(t, err, "aws-ssm sink ssm: no region")
}

// TestTargetsCheckRunsEveryTarget: Check runs every bound target, also
// after one fails, and joins the failures.
func TestTargetsCheckRunsEveryTarget(t *testing.T) {
	var ts awsapi.Targets[string]
	require.NoError(t, ts.Check(t.Context(), func(string, context.Context) error { return errors.New("never called") }))
	for _, name := range []string{"a", "b", "c"} {
		require.Equal(t, name, ts.Add(name))
	}
	var ran []string
	err := ts.Check(t.Context(), func(name string, _ context.Context) error {
		ran = append(ran, name)
		if name == "b" {
			return nil
		}
		return errors.New("check " + name + ": denied")
	})
	require.Equal(t, []string{"a", "b", "c"}, ran)
	require.EqualError(t, err, "check a: denied\ncheck c: denied")
}
