package awstest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

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
		require.NoError(c.t, json.Unmarshal([]byte(s), &out), "aws %v printed %q", args, s)
	}
	return out, stderr.String(), nil
}

// ok runs a command that must succeed.
func (c *cli) ok(args ...string) map[string]any {
	c.t.Helper()
	out, stderr, err := c.run(nil, args...)
	require.NoError(c.t, err, "aws %s: %s", strings.Join(args, " "), stderr)
	return out
}

// fails runs a command that must fail with the given AWS error code, and
// returns the CLI's message.
func (c *cli) fails(env []string, code string, args ...string) string {
	c.t.Helper()
	_, stderr, err := c.run(env, args...)
	var ee *exec.ExitError
	require.True(c.t, errors.As(err, &ee), "aws %s: want failure %s, got %v", strings.Join(args, " "), code, err)
	require.Equal(c.t, 254, ee.ExitCode(), "a service error exits 254: %s", stderr)
	require.Contains(c.t, stderr, "("+code+")", "stderr: %s", stderr)
	require.NotContains(c.t, stderr, "reached max retries", "the CLI must not take %s for a retryable error", code)
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
	require.Equal(t, []any{"AWSPENDING"}, out["VersionStages"])
	require.Equal(t, arn, out["ARN"])

	out = c.ok("secretsmanager", "get-secret-value", "--secret-id", arn, "--version-stage", "AWSPENDING")
	require.Equal(t, `{"k":"v2"}`, out["SecretString"])
	require.Equal(t, v2, out["VersionId"])
	require.NotEmpty(t, out["CreatedDate"])

	c.ok("secretsmanager", "update-secret-version-stage", "--secret-id", "cli/test", "--version-stage", "AWSCURRENT",
		"--move-to-version-id", v2, "--remove-from-version-id", v1)

	out = c.ok("secretsmanager", "describe-secret", "--secret-id", "cli/test")
	require.Equal(t, map[string]any{v1: []any{"AWSPREVIOUS"}, v2: []any{"AWSPENDING", "AWSCURRENT"}}, out["VersionIdsToStages"])
	require.Equal(t, "cli/test", out["Name"])

	out = c.ok("secretsmanager", "list-secret-version-ids", "--secret-id", "cli/test", "--include-deprecated")
	require.Len(t, out["Versions"], 2)

	msg := c.fails(nil, "ResourceNotFoundException", "secretsmanager", "get-secret-value", "--secret-id", "cli/missing")
	require.Contains(t, msg, "GetSecretValue operation: Secrets Manager can't find the specified secret.")
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
	require.Equal(t, float64(2), out["Version"])
	require.Equal(t, "Standard", out["Tier"])

	out = c.ok("ssm", "get-parameter", "--name", "/cli/p", "--with-decryption")
	p := out["Parameter"].(map[string]any)
	require.Equal(t, "v2", p["Value"])
	require.Equal(t, "SecureString", p["Type"])
	require.Equal(t, float64(2), p["Version"])
	require.Equal(t, "arn:aws:ssm:us-east-1:123456789012:parameter/cli/p", p["ARN"])
	require.NotEmpty(t, p["LastModifiedDate"])

	out = c.ok("ssm", "get-parameters", "--names", "/cli/p", "/cli/none", "--with-decryption")
	require.Equal(t, []any{"/cli/none"}, out["InvalidParameters"])
	require.Equal(t, "v2", out["Parameters"].([]any)[0].(map[string]any)["Value"])

	c.fails(nil, "ParameterNotFound", "ssm", "get-parameter", "--name", "/cli/none")
	msg := c.fails([]string{"AWS_SECRET_ACCESS_KEY=wrong"}, "InvalidSignatureException", "ssm", "get-parameter", "--name", "/cli/p")
	require.Contains(t, msg, "The request signature we calculated does not match")
}
