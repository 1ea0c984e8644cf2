package awstest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/rotator-dev/rotator/internal/sinks/awstest"
)

func clients(srv *awstest.Server) (*secretsmanager.Client, *ssm.Client) {
	cfg := aws.Config{Region: srv.Region(), Credentials: srv.Credentials(), RetryMaxAttempts: 1}
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(srv.URL()) })
	ps := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(srv.URL()) })
	return sm, ps
}

func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "want %s, got %v", code, err)
	require.Equal(t, code, ae.ErrorCode(), "%v", err)
}

// raw sends a request signed by the SDK's signer, optionally altered after
// signing, and returns the status and decoded error body.
func raw(t *testing.T, srv *awstest.Server, target, body string, signedAt time.Time, alter func(*http.Request)) (int, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL()+"/", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	sum := sha256.Sum256([]byte(body))
	service := "secretsmanager"
	if strings.HasPrefix(target, "AmazonSSM.") {
		service = "ssm"
	}
	creds, err := srv.Credentials().Retrieve(context.Background())
	require.NoError(t, err)
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, srv.Region(), signedAt))
	if alter != nil {
		alter(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "application/x-amz-json-1.1", resp.Header.Get("Content-Type"))
	out := map[string]string{}
	if resp.StatusCode != http.StatusOK {
		require.NoError(t, json.Unmarshal(b, &out), "%s", b)
	}
	return resp.StatusCode, out
}

func TestSignatureChecks(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("s", `{"a":"b"}`)
	const target, body = "secretsmanager.DescribeSecret", `{"SecretId":"s"}`
	now := time.Now()

	status, _ := raw(t, srv, target, body, now, nil)
	require.Equal(t, http.StatusOK, status, "a correctly signed request passes")

	for name, tc := range map[string]struct {
		at    time.Time
		alter func(*http.Request)
		code  string
		msg   string
	}{
		"no authorization": {now, func(r *http.Request) { r.Header.Del("Authorization") }, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		"body changed after signing": {now, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"SecretId":"t"}`))
		}, "InvalidSignatureException", "does not match"},
		"signed header changed": {now, func(r *http.Request) { r.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue") }, "InvalidSignatureException", "does not match"},
		"signature expired":     {now.Add(-10 * time.Minute), nil, "InvalidSignatureException", "Signature expired"},
		"signed in the future":  {now.Add(10 * time.Minute), nil, "InvalidSignatureException", "Signature not yet current"},
		"garbled header":        {now, func(r *http.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 nonsense") }, "IncompleteSignatureException", ""},
		"unknown session token": {now, func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "forged") }, "UnrecognizedClientException", "security token"},
		"wrong service in scope": {now, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/secretsmanager/", "/ssm/", 1))
		}, "InvalidSignatureException", "correct service"},
	} {
		t.Run(name, func(t *testing.T) {
			status, body := raw(t, srv, target, body, tc.at, tc.alter)
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, tc.code, body["__type"])
			require.Contains(t, body["message"], tc.msg)
		})
	}
	status, out := raw(t, srv, "secretsmanager.DeleteSecret", body, now, nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "UnknownOperationException", out["__type"])
	status, out = raw(t, srv, target, body, now, func(r *http.Request) {
		r.Header.Set("Content-Type", "application/json")
	})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "SerializationException", out["__type"])
	status, out = raw(t, srv, target, `{"SecretId":`, now, nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "SerializationException", out["__type"])
}

func TestStagingLabels(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	sm, _ := clients(srv)
	ctx := t.Context()
	const t1, t2, t3 = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", "cccccccc-cccc-4ccc-8ccc-cccccccccccc"

	_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s")})
	require.NoError(t, err)
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	requireCode(t, err, "ResourceNotFoundException")
	_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s")})
	requireCode(t, err, "ResourceExistsException")

	// The first version gets AWSCURRENT whatever the stages asked.
	out, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String(t1),
		SecretString: aws.String("one"), VersionStages: []string{"AWSPENDING"}})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"AWSPENDING", "AWSCURRENT"}, out.VersionStages)

	// No stages: AWSCURRENT moves, AWSPREVIOUS follows.
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String(t2), SecretString: aws.String("two")})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"AWSCURRENT": t2, "AWSPREVIOUS": t1, "AWSPENDING": t1}, srv.SecretStages("s"))

	// Same token, same value: ignored; same token, other value: refused.
	again, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String(t2), SecretString: aws.String("two")})
	require.NoError(t, err)
	require.Equal(t, t2, aws.ToString(again.VersionId))
	require.Len(t, srv.SecretVersions("s"), 2)
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String(t2), SecretString: aws.String("other")})
	requireCode(t, err, "ResourceExistsException")
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String("short"), SecretString: aws.String("x")})
	requireCode(t, err, "ValidationException")

	// A label held elsewhere needs RemoveFromVersionId, and the right one.
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String(t3),
		SecretString: aws.String("three"), VersionStages: []string{"AWSPENDING"}})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"AWSCURRENT": t2, "AWSPREVIOUS": t1, "AWSPENDING": t3}, srv.SecretStages("s"), "AWSPENDING moved off t1")
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(t3)})
	requireCode(t, err, "InvalidParameterException")
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"),
		MoveToVersionId: aws.String(t3), RemoveFromVersionId: aws.String(t1)})
	requireCode(t, err, "InvalidParameterException")
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"),
		MoveToVersionId: aws.String(t3), RemoveFromVersionId: aws.String(t2)})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"AWSCURRENT": t3, "AWSPREVIOUS": t2, "AWSPENDING": t3}, srv.SecretStages("s"))
	// Moving to where it already is: a no-op.
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(t3)})
	require.NoError(t, err)
	// AWSCURRENT can't just be removed; other labels can.
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), RemoveFromVersionId: aws.String(t3)})
	requireCode(t, err, "InvalidParameterException")
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String(t3)})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"AWSCURRENT": t3, "AWSPREVIOUS": t2}, srv.SecretStages("s"))

	// t1 has no label left: deprecated, listed only on request.
	list, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s")})
	require.NoError(t, err)
	require.Len(t, list.Versions, 2)
	p := secretsmanager.NewListSecretVersionIdsPaginator(sm, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s"), IncludeDeprecated: aws.Bool(true), MaxResults: aws.Int32(1)})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		n += len(page.Versions)
	}
	require.Equal(t, 3, n)

	// Reads by id, by label, and by ARN.
	info, _ := srv.Secret("s")
	got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(info.ARN), VersionId: aws.String(t1)})
	require.NoError(t, err)
	require.Equal(t, "one", aws.ToString(got.SecretString))
	got, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSPREVIOUS")})
	require.NoError(t, err)
	require.Equal(t, "two", aws.ToString(got.SecretString))
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s"), VersionId: aws.String(t1), VersionStage: aws.String("AWSCURRENT")})
	requireCode(t, err, "ResourceNotFoundException")
}

func TestParameters(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	_, ps := clients(srv)
	ctx := t.Context()
	put := func(name, value string, typ ssmtypes.ParameterType, overwrite bool) (*ssm.PutParameterOutput, error) {
		return ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: typ, Overwrite: aws.Bool(overwrite)})
	}
	out, err := put("/app/key", "v1", ssmtypes.ParameterTypeSecureString, false)
	require.NoError(t, err)
	require.Equal(t, int64(1), out.Version)
	_, err = put("/app/key", "v2", ssmtypes.ParameterTypeSecureString, false)
	requireCode(t, err, "ParameterAlreadyExists")
	out, err = put("/app/key", "v2", ssmtypes.ParameterTypeSecureString, true)
	require.NoError(t, err)
	require.Equal(t, int64(2), out.Version)
	_, err = put("/app/key", "v3", ssmtypes.ParameterTypeString, true)
	requireCode(t, err, "HierarchyTypeMismatchException")
	_, err = put("/app/big", strings.Repeat("x", 4097), ssmtypes.ParameterTypeSecureString, false)
	requireCode(t, err, "ValidationException")
	for _, bad := range []string{"app/key", "/aws/x", "/a b", "/a//b"} {
		_, err = put(bad, "x", ssmtypes.ParameterTypeString, false)
		requireCode(t, err, "ValidationException")
	}
	_, err = put("/"+strings.Repeat("a/", 15)+"x", "x", ssmtypes.ParameterTypeString, false)
	requireCode(t, err, "HierarchyLevelLimitExceededException")

	enc, err := ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/key")})
	require.NoError(t, err)
	require.NotEqual(t, "v2", aws.ToString(enc.Parameter.Value), "SecureString stays encrypted without WithDecryption")
	dec, err := ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/key"), WithDecryption: aws.Bool(true)})
	require.NoError(t, err)
	require.Equal(t, "v2", aws.ToString(dec.Parameter.Value))
	old, err := ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/key:1"), WithDecryption: aws.Bool(true)})
	require.NoError(t, err)
	require.Equal(t, "v1", aws.ToString(old.Parameter.Value))
	_, err = ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/key:9")})
	requireCode(t, err, "ParameterVersionNotFound")
	_, err = ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/none")})
	requireCode(t, err, "ParameterNotFound")

	many, err := ps.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/app/key", "/app/none"}, WithDecryption: aws.Bool(true)})
	require.NoError(t, err)
	require.Len(t, many.Parameters, 1)
	require.Equal(t, []string{"/app/none"}, many.InvalidParameters)
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = "/app/key"
	}
	_, err = ps.GetParameters(ctx, &ssm.GetParametersInput{Names: eleven})
	requireCode(t, err, "ValidationException")
}

func TestFaultInjection(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	sm, ps := clients(srv)
	ctx := t.Context()
	srv.CreateSecret("s", "v")

	srv.FailNext("secretsmanager.GetSecretValue", 2, "ThrottlingException")
	for range 2 {
		_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
		requireCode(t, err, "ThrottlingException")
	}
	_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	require.NoError(t, err)

	srv.FailNext("GetParameter", 1, "InternalServerError")
	_, err = ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/x")})
	requireCode(t, err, "InternalServerError")
	var re interface{ HTTPStatusCode() int }
	require.True(t, errors.As(err, &re))
	require.Equal(t, http.StatusInternalServerError, re.HTTPStatusCode())

	srv.Down(true)
	_, err = sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
	require.Error(t, err)
	var ae smithy.APIError
	require.False(t, errors.As(err, &ae), "a down server answers nothing: %v", err)
	srv.Down(false)
	_, err = sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
	require.NoError(t, err)

	srv.Stall(true)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := sm.DescribeSecret(cctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
		done <- err
	}()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	srv.Stall(false)

	require.Equal(t, []string{"GetSecretValue", "GetSecretValue", "GetSecretValue", "GetParameter", "DescribeSecret"},
		srv.Calls()[:5])
}

func TestSecretValueNeverInErrors(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	sm, _ := clients(srv)
	secret := "value-that-must-not-leak"
	_, err := sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("none"),
		ClientRequestToken: aws.String("dddddddd-dddd-4ddd-8ddd-dddddddddddd"), SecretString: aws.String(secret)})
	requireCode(t, err, "ResourceNotFoundException")
	require.NotContains(t, err.Error(), secret)
	_, err = sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("none"),
		ClientRequestToken: aws.String("dddddddd-dddd-4ddd-8ddd-dddddddddddd"), SecretString: aws.String(strings.Repeat(secret, 3000))})
	requireCode(t, err, "ValidationException")
	require.NotContains(t, err.Error(), secret)
}
