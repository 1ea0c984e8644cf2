package awstest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks/awstest"
)

// awsCLI is the Debian package's CLI. A `which aws` may find a pyenv shim
// that is not a working CLI, so the path is fixed.
const awsCLI = "/usr/bin/aws"

// cli runs the official AWS CLI against srv with env credentials and
// returns its JSON output decoded, or its exit error and stderr.
type cli struct {
	t   *testing.T
	srv *awstest.Server
	env []string
}

func newCLI(t *testing.T, srv *awstest.Server) *cli {
	t.Helper()
	if _, err := os.Stat(awsCLI); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the AWS CLI is required in CI (apt-get install -y awscli): %v", err)
		}
		t.Skipf("the AWS CLI is not installed (apt-get install -y awscli): %v", err)
	}
	home := t.TempDir()
	env := append([]string{
		"HOME=" + home,
		"PATH=/usr/bin:/bin",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_PAGER=",
		"AWS_CLI_AUTO_PROMPT=off",
		"AWS_RETRY_MODE=standard",
	}, srv.Env()...)
	return &cli{t: t, srv: srv, env: env}
}

func (c *cli) run(env []string, args ...string) (map[string]any, string, error) {
	c.t.Helper()
	args = append([]string{"--endpoint-url", c.srv.URL(), "--output", "json", "--no-cli-pager"}, args...)
	ctx, cancel := context.WithCancel(c.t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, awsCLI, args...)
	cmd.Env = append(append([]string(nil), c.env...), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return nil, stderr.String(), err
	}
	out := map[string]any{}
	if s := strings.TrimSpace(stdout.String()); s != "" {
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			c.t.Fatalf("aws %v printed %q: %v", args, s, err)
		}
	}
	return out, stderr.String(), nil
}

// ok runs a command that must succeed.
func (c *cli) ok(args ...string) map[string]any {
	c.t.Helper()
	out, stderr, err := c.run(nil, args...)
	if err != nil {
		c.t.Fatalf("aws %s: %s: %v", strings.Join(args, " "), stderr, err)
	}
	return out
}

// fails runs a command that must fail with the given AWS error code, and
// returns the CLI's message.
func (c *cli) fails(env []string, code string, args ...string) string {
	c.t.Helper()
	_, stderr, err := c.run(env, args...)
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		c.t.Fatalf("aws %s: want failure %s, got %v: got false, want true", strings.Join(args, " "), code, err)
	}
	if got := ee.ExitCode(); got != 254 {
		c.t.Fatalf("a service error exits 254: %s: got %v, want %v", stderr, got, 254)
	}
	if !strings.Contains(stderr, "("+code+")") {
		c.t.Fatalf("stderr: %s: got %q, want it to contain %q", stderr, stderr, "("+code+")")
	}
	if strings.Contains(stderr, "reached max retries") {
		c.t.Fatalf("the CLI must not take %s for a retryable error: got %q, want it not to contain %q", code, stderr, "reached max retries")
	}
	return stderr
}

// The CLI takes about a second of CPU to start, so each test makes a
// handful of calls: the operations the sinks use, one service error, and
// one bad signature. The two tests run in parallel.

// TestAWSCLISecretsManager checks that the official CLI accepts every
// response of the Secrets Manager operations the sink uses, and that the
// server accepts the CLI's (botocore's, not Go's) SigV4 signatures.
func TestAWSCLISecretsManager(t *testing.T) {
	t.Parallel()
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	c := newCLI(t, srv)
	arn := srv.CreateSecret("cli/test", `{"k":"v1"}`)
	v1 := srv.SecretStages("cli/test")["AWSCURRENT"]
	const v2 = "22222222-2222-4222-8222-222222222222"

	out := c.ok("secretsmanager", "put-secret-value", "--secret-id", "cli/test", "--secret-string", `{"k":"v2"}`,
		"--client-request-token", v2, "--version-stages", "AWSPENDING")
	if want := []any{"AWSPENDING"}; !reflect.DeepEqual(want, out["VersionStages"]) {
		t.Fatalf("out[\"VersionStages\"] = %+v, want %+v", out["VersionStages"], want)
	}
	if !reflect.DeepEqual(arn, out["ARN"]) {
		t.Fatalf("out[\"ARN\"] = %+v, want %+v", out["ARN"], arn)
	}

	out = c.ok("secretsmanager", "get-secret-value", "--secret-id", arn, "--version-stage", "AWSPENDING")
	if !reflect.DeepEqual(`{"k":"v2"}`, out["SecretString"]) {
		t.Fatalf("out[\"SecretString\"] = %+v, want %+v", out["SecretString"], `{"k":"v2"}`)
	}
	if !reflect.DeepEqual(v2, out["VersionId"]) {
		t.Fatalf("out[\"VersionId\"] = %+v, want %+v", out["VersionId"], v2)
	}
	if out["CreatedDate"] == nil || reflect.ValueOf(out["CreatedDate"]).IsZero() {
		t.Fatalf("CreatedDate = %v, want non-empty", out["CreatedDate"])
	}

	c.ok("secretsmanager", "update-secret-version-stage", "--secret-id", "cli/test", "--version-stage", "AWSCURRENT",
		"--move-to-version-id", v2, "--remove-from-version-id", v1)

	out = c.ok("secretsmanager", "describe-secret", "--secret-id", "cli/test")
	if want := map[string]any{v1: []any{"AWSPREVIOUS"}, v2: []any{"AWSPENDING", "AWSCURRENT"}}; !reflect.DeepEqual(want, out["VersionIdsToStages"]) {
		t.Fatalf("out[\"VersionIdsToStages\"] = %+v, want %+v", out["VersionIdsToStages"], want)
	}
	if !reflect.DeepEqual("cli/test", out["Name"]) {
		t.Fatalf("out[\"Name\"] = %+v, want %+v", out["Name"], "cli/test")
	}

	out = c.ok("secretsmanager", "list-secret-version-ids", "--secret-id", "cli/test", "--include-deprecated")
	if versions, _ := out["Versions"].([]any); len(versions) != 2 {
		t.Fatalf("got %d versions, want 2: %+v", len(versions), out["Versions"])
	}

	msg := c.fails(nil, "ResourceNotFoundException", "secretsmanager", "get-secret-value", "--secret-id", "cli/missing")
	if !strings.Contains(msg, "GetSecretValue operation: Secrets Manager can't find the specified secret.") {
		t.Fatalf("got %q, want it to contain %q", msg, "GetSecretValue operation: Secrets Manager can't find the specified secret.")
	}
}

// TestAWSCLIParameterStore does the same for the SSM operations.
func TestAWSCLIParameterStore(t *testing.T) {
	t.Parallel()
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	c := newCLI(t, srv)
	srv.SetParameter("/cli/p", "SecureString", "v1")

	out := c.ok("ssm", "put-parameter", "--name", "/cli/p", "--value", "v2", "--type", "SecureString",
		"--key-id", "alias/rotator", "--overwrite")
	if !reflect.DeepEqual(float64(2), out["Version"]) {
		t.Fatalf("out[\"Version\"] = %v, want %v", out["Version"], float64(2))
	}
	if !reflect.DeepEqual("Standard", out["Tier"]) {
		t.Fatalf("out[\"Tier\"] = %+v, want %+v", out["Tier"], "Standard")
	}

	out = c.ok("ssm", "get-parameter", "--name", "/cli/p", "--with-decryption")
	p := out["Parameter"].(map[string]any)
	if !reflect.DeepEqual("v2", p["Value"]) {
		t.Fatalf("p[\"Value\"] = %+v, want %+v", p["Value"], "v2")
	}
	if !reflect.DeepEqual("SecureString", p["Type"]) {
		t.Fatalf("p[\"Type\"] = %+v, want %+v", p["Type"], "SecureString")
	}
	if !reflect.DeepEqual(float64(2), p["Version"]) {
		t.Fatalf("p[\"Version\"] = %v, want %v", p["Version"], float64(2))
	}
	if !reflect.DeepEqual("arn:aws:ssm:us-east-1:123456789012:parameter/cli/p", p["ARN"]) {
		t.Fatalf("p[\"ARN\"] = %+v, want %+v", p["ARN"], "arn:aws:ssm:us-east-1:123456789012:parameter/cli/p")
	}
	if p["LastModifiedDate"] == nil || reflect.ValueOf(p["LastModifiedDate"]).IsZero() {
		t.Fatalf("LastModifiedDate = %v, want non-empty", p["LastModifiedDate"])
	}

	out = c.ok("ssm", "get-parameters", "--names", "/cli/p", "/cli/none", "--with-decryption")
	if want := []any{"/cli/none"}; !reflect.DeepEqual(want, out["InvalidParameters"]) {
		t.Fatalf("out[\"InvalidParameters\"] = %+v, want %+v", out["InvalidParameters"], want)
	}
	if !reflect.DeepEqual("v2", out["Parameters"].([]any)[0].(map[string]any)["Value"]) {
		t.Fatalf("out[\"Parameters\"].([]any)[0].(map[string]any)[\"Value\"] = %+v, want %+v", out["Parameters"].([]any)[0].(map[string]any)["Value"], "v2")
	}

	c.fails(nil, "ParameterNotFound", "ssm", "get-parameter", "--name", "/cli/none")
	msg := c.fails([]string{"AWS_SECRET_ACCESS_KEY=wrong"}, "InvalidSignatureException", "ssm", "get-parameter", "--name", "/cli/p")
	if !strings.Contains(msg, "The request signature we calculated does not match") {
		t.Fatalf("got %q, want it to contain %q", msg, "The request signature we calculated does not match")
	}
}
