package awsapi_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

func section(t *testing.T, src string) config.Section {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml.Unmarshal([]byte(src), &doc): %v", err)
	}
	return config.Section{Path: "sinks.aws", Type: "aws-test", Node: doc.Content[0]}
}

func TestParseConfig(t *testing.T) {
	cfg, err := awsapi.ParseConfig(section(t,
		"{type: aws-x, region: us-gov-west-1, endpoint: 'http://127.0.0.1:4566', profile: prod, max_attempts: 10}"))
	if err != nil {
		t.Fatalf("awsapi.ParseConfig: %v", err)
	}
	if want := (awsapi.Config{Region: "us-gov-west-1", Endpoint: "http://127.0.0.1:4566", Profile: "prod", MaxAttempts: 10}); !reflect.DeepEqual(want, cfg) {
		t.Fatalf("cfg = %+v, want %+v", cfg, want)
	}

	cfg, err = awsapi.ParseConfig(section(t, "{type: aws-x}"))
	if err != nil {
		t.Fatalf("awsapi.ParseConfig: %v", err)
	}
	if want := (awsapi.Config{}); !reflect.DeepEqual(want, cfg) {
		t.Fatalf("every field is optional: got %+v, want %+v", cfg, want)
	}
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
		if !errors.As(err, &fe) {
			t.Fatalf("%s: %v: got false, want true", tc.src, err)
		}
		if fe.Path != tc.path {
			t.Fatalf("%s: got %q, want %q", tc.src, fe.Path, tc.path)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: got error %v, want one containing %q", tc.src, err, tc.want)
		}
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
	if err != nil {
		t.Fatalf("awsapi.Load: %v", err)
	}
	if awsCfg.Region != "eu-west-1" {
		t.Fatalf("awsCfg.Region = %q, want %q", awsCfg.Region, "eu-west-1")
	}
	if awsCfg.RetryMaxAttempts != 2 {
		t.Fatalf("awsCfg.RetryMaxAttempts = %v, want %v", awsCfg.RetryMaxAttempts, 2)
	}
	got, err := awsCfg.Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatalf("awsCfg.Credentials.Retrieve: %v", err)
	}
	if got.AccessKeyID != "AKIDTEST" {
		t.Fatalf("got.AccessKeyID = %q, want %q", got.AccessKeyID, "AKIDTEST")
	}

	awsCfg, err = awsapi.Load(awsapi.Config{Region: "eu-west-1"}, "")
	if err != nil {
		t.Fatalf("awsapi.Load: %v", err)
	}
	if awsCfg.RetryMaxAttempts != 0 {
		t.Fatalf("unset: the SDK's default: got %v, want zero", awsCfg.RetryMaxAttempts)
	}
}

func TestLoadNeedsRegion(t *testing.T) {
	isolate(t)
	_, err := awsapi.Load(awsapi.Config{}, "")
	if err == nil || !strings.Contains(err.Error(), "no region") {
		t.Fatalf("awsapi.Load: got error %v, want one containing %q", err, "no region")
	}

	t.Setenv("AWS_REGION", "ap-south-1")
	awsCfg, err := awsapi.Load(awsapi.Config{}, "")
	if err != nil {
		t.Fatalf("awsapi.Load: %v", err)
	}
	if awsCfg.Region != "ap-south-1" {
		t.Fatalf("awsCfg.Region = %q, want %q", awsCfg.Region, "ap-south-1")
	}
}

func TestLoadProfile(t *testing.T) {
	isolate(t)
	if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte("[profile rotator]\nregion = ca-central-1\n"), 0o600); err != nil {
		t.Fatalf("os.WriteFile: %v", err)
	}
	awsCfg, err := awsapi.Load(awsapi.Config{Profile: "rotator"}, "")
	if err != nil {
		t.Fatalf("awsapi.Load: %v", err)
	}
	if awsCfg.Region != "ca-central-1" {
		t.Fatalf("awsCfg.Region = %q, want %q", awsCfg.Region, "ca-central-1")
	}

	_, err = awsapi.Load(awsapi.Config{Profile: "absent", Region: "eu-west-1"}, "")
	if err == nil || !strings.Contains(err.Error(), "load aws config") {
		t.Fatalf("awsapi.Load: got error %v, want one containing %q", err, "load aws config")
	}
	if err == nil || !strings.Contains(err.Error(), "absent") {
		t.Fatalf("got error %v, want one containing %q", err, "absent")
	}
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
	if err != nil {
		t.Fatalf("awsapi.Load: %v", err)
	}
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
	if err != nil {
		t.Fatalf("client(t, cfg, \"rotator/1.2.3\").GetParameters: %v", err)
	}
	if want := []string{"/a"}; !reflect.DeepEqual(want, out.InvalidParameters) {
		t.Fatalf("out.InvalidParameters = %+v, want %+v", out.InvalidParameters, want)
	}
	if !strings.Contains(rec.agents[0], "rotator-1.2.3") {
		t.Fatalf("the SDK writes the key's / as -: got %q, want it to contain %q", rec.agents[0], "rotator-1.2.3")
	}
	if want, got := jsonValue(t, `{"Names":["/a"]}`), jsonValue(t, rec.received[0]); !reflect.DeepEqual(want, got) {
		t.Fatalf("the body reaches the endpoint intact: got JSON %s, want %s", rec.received[0], `{"Names":["/a"]}`)
	}

	// A retryable failure is not retried with max_attempts: 1 (the SDK's
	// default would make 3 calls).
	rec.status, rec.body = http.StatusInternalServerError, `{"__type":"InternalServerError","message":"boom"}`
	rec.calls = 0
	_, err = client(t, cfg, "").GetParameters(t.Context(), &ssm.GetParametersInput{Names: []string{"/a"}})
	if got := awsapi.ErrorCode(err); got != "InternalServerError" {
		t.Fatalf("awsapi.ErrorCode(err) = %q, want %q", got, "InternalServerError")
	}
	if rec.calls != 1 {
		t.Fatalf("rec.calls = %v, want %v", rec.calls, 1)
	}
}

// jsonValue decodes s, failing the test if it is not JSON.
func jsonValue(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON (%v): %s", err, s)
	}
	return v
}
