package awsapi_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

func section(t *testing.T, src string) config.Section {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(src), &doc))
	return config.Section{Path: "sinks.aws", Type: "aws-test", Node: doc.Content[0]}
}

func TestParseConfig(t *testing.T) {
	cfg, err := awsapi.ParseConfig(section(t,
		"{type: aws-x, region: us-gov-west-1, endpoint: 'http://127.0.0.1:4566', profile: prod, max_attempts: 10}"))
	require.NoError(t, err)
	require.Equal(t, awsapi.Config{Region: "us-gov-west-1", Endpoint: "http://127.0.0.1:4566", Profile: "prod", MaxAttempts: 10}, cfg)

	cfg, err = awsapi.ParseConfig(section(t, "{type: aws-x}"))
	require.NoError(t, err)
	require.Equal(t, awsapi.Config{}, cfg, "every field is optional")
}

func TestParseConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ src, path, want string }{
		{"{regoin: eu-west-1}", "sinks.aws.regoin", `unknown field "regoin"`},
		{"{credentials: x}", "sinks.aws.credentials", `unknown field "credentials"`},
		{"{endpoint: 'ftp://x'}", "sinks.aws.endpoint", `"ftp://x" is not an absolute http(s) URL`},
		{"{endpoint: '/relative'}", "sinks.aws.endpoint", "not an absolute http(s) URL"},
		{"{endpoint: 'https://'}", "sinks.aws.endpoint", "not an absolute http(s) URL"},
		{"{region: Europe}", "sinks.aws.region", `"Europe" is not an AWS region name`},
		{"{region: eu-west}", "sinks.aws.region", "not an AWS region name"},
		{"{max_attempts: -1}", "sinks.aws.max_attempts", "between 1 and 10"},
		{"{max_attempts: 11}", "sinks.aws.max_attempts", "between 1 and 10"},
		{"{max_attempts: many}", "sinks.aws", "cannot unmarshal"},
	} {
		_, err := awsapi.ParseConfig(section(t, tc.src))
		var fe *config.FieldError
		require.True(t, errors.As(err, &fe), "%s: %v", tc.src, err)
		require.Equal(t, tc.path, fe.Path, tc.src)
		require.ErrorContains(t, err, tc.want, tc.src)
	}
}

// isolate points the SDK's environment and shared files at nothing.
func isolate(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
		"AWS_MAX_ATTEMPTS": "", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
}

func TestLoad(t *testing.T) {
	isolate(t)
	creds := credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key-value", "")
	awsCfg, err := awsapi.Load(awsapi.Config{Region: "eu-west-1", MaxAttempts: 2, Credentials: creds}, "")
	require.NoError(t, err)
	require.Equal(t, "eu-west-1", awsCfg.Region)
	require.Equal(t, 2, awsCfg.RetryMaxAttempts)
	got, err := awsCfg.Credentials.Retrieve(t.Context())
	require.NoError(t, err)
	require.Equal(t, "AKIDTEST", got.AccessKeyID)

	awsCfg, err = awsapi.Load(awsapi.Config{Region: "eu-west-1"}, "")
	require.NoError(t, err)
	require.Zero(t, awsCfg.RetryMaxAttempts, "unset: the SDK's default")
}

func TestLoadNeedsRegion(t *testing.T) {
	isolate(t)
	_, err := awsapi.Load(awsapi.Config{}, "")
	require.ErrorContains(t, err, "no region")

	t.Setenv("AWS_REGION", "ap-south-1")
	awsCfg, err := awsapi.Load(awsapi.Config{}, "")
	require.NoError(t, err)
	require.Equal(t, "ap-south-1", awsCfg.Region)
}

func TestLoadProfile(t *testing.T) {
	isolate(t)
	require.NoError(t, os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte("[profile rotator]\nregion = ca-central-1\n"), 0o600))
	awsCfg, err := awsapi.Load(awsapi.Config{Profile: "rotator"}, "")
	require.NoError(t, err)
	require.Equal(t, "ca-central-1", awsCfg.Region)

	_, err = awsapi.Load(awsapi.Config{Profile: "absent", Region: "eu-west-1"}, "")
	require.ErrorContains(t, err, "load aws config")
	require.ErrorContains(t, err, "absent")
}

// recorder is an AWS JSON endpoint that answers every call with status and
// body, and records what it received.
type recorder struct {
	status int
	body   string

	mu       sync.Mutex
	calls    int
	agents   []string
	received []string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.calls++
	rec.agents = append(rec.agents, r.Header.Get("User-Agent"))
	rec.received = append(rec.received, string(b))
	rec.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(rec.status)
	_, _ = io.WriteString(w, rec.body)
}

// client builds an SSM client the way the AWS sinks do.
func client(t *testing.T, cfg awsapi.Config, userAgent string) *ssm.Client {
	t.Helper()
	awsCfg, err := awsapi.Load(cfg, userAgent)
	require.NoError(t, err)
	return ssm.NewFromConfig(awsCfg, func(o *ssm.Options) { awsapi.ClientOptions(cfg, &o.BaseEndpoint, &o.HTTPClient) })
}

func TestLoadedClientSendsUserAgentAndHonoursMaxAttempts(t *testing.T) {
	isolate(t)
	rec := &recorder{status: http.StatusOK, body: `{"Parameters":[],"InvalidParameters":["/a"]}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	cfg := awsapi.Config{Region: "eu-west-1", Endpoint: srv.URL, MaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key-value", "")}

	out, err := client(t, cfg, "rotator/1.2.3").GetParameters(t.Context(), &ssm.GetParametersInput{Names: []string{"/a"}})
	require.NoError(t, err)
	require.Equal(t, []string{"/a"}, out.InvalidParameters)
	require.Contains(t, rec.agents[0], "rotator-1.2.3", "the SDK writes the key's / as -")
	require.JSONEq(t, `{"Names":["/a"]}`, rec.received[0], "the body reaches the endpoint intact")

	// A retryable failure is not retried with max_attempts: 1 (the SDK's
	// default would make 3 calls).
	rec.status, rec.body = http.StatusInternalServerError, `{"__type":"InternalServerError","message":"boom"}`
	rec.calls = 0
	_, err = client(t, cfg, "").GetParameters(t.Context(), &ssm.GetParametersInput{Names: []string{"/a"}})
	require.Equal(t, "InternalServerError", awsapi.ErrorCode(err))
	require.Equal(t, 1, rec.calls)
}
