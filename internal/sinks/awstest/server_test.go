package awstest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

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
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v: got false, want true", code, err)
	}
	if got := ae.ErrorCode(); got != code {
		t.Fatalf("%v: got %q, want %q", err, got, code)
	}
}

// raw sends a request signed by the SDK's signer, optionally altered after
// signing, and returns the status and decoded error body.
func raw(t *testing.T, srv *awstest.Server, target, body string, signedAt time.Time, alter func(*http.Request)) (int, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatalf("http.NewRequest: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	sum := sha256.Sum256([]byte(body))
	service := "secretsmanager"
	if strings.HasPrefix(target, "AmazonSSM.") {
		service = "ssm"
	}
	creds, err := srv.Credentials().Retrieve(context.Background())
	if err != nil {
		t.Fatalf("srv.Credentials().Retrieve: %v", err)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, srv.Region(), signedAt); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
	if alter != nil {
		alter(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("http.DefaultClient.Do: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("io.ReadAll: %v", err)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/x-amz-json-1.1" {
		t.Fatalf("resp.Header.Get(\"Content-Type\") = %q, want %q", got, "application/x-amz-json-1.1")
	}
	out := map[string]string{}
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
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
	if status != http.StatusOK {
		t.Fatalf("a correctly signed request passes: got %v, want %v", status, http.StatusOK)
	}

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
			if status != http.StatusBadRequest {
				t.Fatalf("status = %v, want %v", status, http.StatusBadRequest)
			}
			if body["__type"] != tc.code {
				t.Fatalf("body[\"__type\"] = %q, want %q", body["__type"], tc.code)
			}
			if !strings.Contains(body["message"], tc.msg) {
				t.Fatalf("got %q, want it to contain %q", body["message"], tc.msg)
			}
		})
	}
	status, out := raw(t, srv, "secretsmanager.DeleteSecret", body, now, nil)
	if status != http.StatusBadRequest {
		t.Fatalf("status = %v, want %v", status, http.StatusBadRequest)
	}
	if out["__type"] != "UnknownOperationException" {
		t.Fatalf("out[\"__type\"] = %q, want %q", out["__type"], "UnknownOperationException")
	}
	status, out = raw(t, srv, target, body, now, func(r *http.Request) {
		r.Header.Set("Content-Type", "application/json")
	})
	if status != http.StatusBadRequest {
		t.Fatalf("status = %v, want %v", status, http.StatusBadRequest)
	}
	if out["__type"] != "SerializationException" {
		t.Fatalf("out[\"__type\"] = %q, want %q", out["__type"], "SerializationException")
	}
	status, out = raw(t, srv, target, `{"SecretId":`, now, nil)
	if status != http.StatusBadRequest {
		t.Fatalf("status = %v, want %v", status, http.StatusBadRequest)
	}
	if out["__type"] != "SerializationException" {
		t.Fatalf("out[\"__type\"] = %q, want %q", out["__type"], "SerializationException")
	}
}

func TestStagingLabels(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	sm, _ := clients(srv)
	ctx := t.Context()
	const t1, t2, t3 = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", "cccccccc-cccc-4ccc-8ccc-cccccccccccc"

	_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s")})
	if err != nil {
		t.Fatalf("sm.CreateSecret: %v", err)
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	requireCode(t, err, "ResourceNotFoundException")
	_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s")})
	requireCode(t, err, "ResourceExistsException")

	// The first version gets AWSCURRENT whatever the stages asked.
	out, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String(t1),
		SecretString: aws.String("one"), VersionStages: []string{"AWSPENDING"}})
	if err != nil {
		t.Fatalf("sm.PutSecretValue: %v", err)
	}
	if stages := slices.Sorted(slices.Values(out.VersionStages)); !slices.Equal(stages, []string{"AWSCURRENT", "AWSPENDING"}) {
		t.Fatalf("got stages %q, want AWSCURRENT and AWSPENDING", out.VersionStages)
	}

	// No stages: AWSCURRENT moves, AWSPREVIOUS follows.
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String(t2), SecretString: aws.String("two")})
	if err != nil {
		t.Fatalf("sm.PutSecretValue: %v", err)
	}
	if got, want := srv.SecretStages("s"), map[string]string{"AWSCURRENT": t2, "AWSPREVIOUS": t1, "AWSPENDING": t1}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.SecretStages(\"s\") = %+v, want %+v", got, want)
	}

	// Same token, same value: ignored; same token, other value: refused.
	again, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String(t2), SecretString: aws.String("two")})
	if err != nil {
		t.Fatalf("sm.PutSecretValue: %v", err)
	}
	if got := aws.ToString(again.VersionId); got != t2 {
		t.Fatalf("aws.ToString(again.VersionId) = %q, want %q", got, t2)
	}
	if got := srv.SecretVersions("s"); len(got) != 2 {
		t.Fatalf("len(srv.SecretVersions(\"s\")) = %d, want %d: %+v", len(got), 2, got)
	}
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String(t2), SecretString: aws.String("other")})
	requireCode(t, err, "ResourceExistsException")
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String("short"), SecretString: aws.String("x")})
	requireCode(t, err, "ValidationException")

	// A label held elsewhere needs RemoveFromVersionId, and the right one.
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String(t3),
		SecretString: aws.String("three"), VersionStages: []string{"AWSPENDING"}})
	if err != nil {
		t.Fatalf("sm.PutSecretValue: %v", err)
	}
	if got, want := srv.SecretStages("s"), map[string]string{"AWSCURRENT": t2, "AWSPREVIOUS": t1, "AWSPENDING": t3}; !reflect.DeepEqual(want, got) {
		t.Fatalf("AWSPENDING moved off t1: got %+v, want %+v", got, want)
	}
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(t3)})
	requireCode(t, err, "InvalidParameterException")
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"),
		MoveToVersionId: aws.String(t3), RemoveFromVersionId: aws.String(t1)})
	requireCode(t, err, "InvalidParameterException")
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"),
		MoveToVersionId: aws.String(t3), RemoveFromVersionId: aws.String(t2)})
	if err != nil {
		t.Fatalf("sm.UpdateSecretVersionStage: %v", err)
	}
	if got, want := srv.SecretStages("s"), map[string]string{"AWSCURRENT": t3, "AWSPREVIOUS": t2, "AWSPENDING": t3}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.SecretStages(\"s\") = %+v, want %+v", got, want)
	}
	// Moving to where it already is: a no-op.
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(t3)})
	if err != nil {
		t.Fatalf("sm.UpdateSecretVersionStage: %v", err)
	}
	// AWSCURRENT can't just be removed; other labels can.
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), RemoveFromVersionId: aws.String(t3)})
	requireCode(t, err, "InvalidParameterException")
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String(t3)})
	if err != nil {
		t.Fatalf("sm.UpdateSecretVersionStage: %v", err)
	}
	if got, want := srv.SecretStages("s"), map[string]string{"AWSCURRENT": t3, "AWSPREVIOUS": t2}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.SecretStages(\"s\") = %+v, want %+v", got, want)
	}

	// t1 has no label left: deprecated, listed only on request.
	list, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s")})
	if err != nil {
		t.Fatalf("sm.ListSecretVersionIds: %v", err)
	}
	if len(list.Versions) != 2 {
		t.Fatalf("len(list.Versions) = %d, want %d: %+v", len(list.Versions), 2, list.Versions)
	}
	p := secretsmanager.NewListSecretVersionIdsPaginator(sm, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s"), IncludeDeprecated: aws.Bool(true), MaxResults: aws.Int32(1)})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("p.NextPage: %v", err)
		}
		n += len(page.Versions)
	}
	if n != 3 {
		t.Fatalf("n = %v, want %v", n, 3)
	}

	// Reads by id, by label, and by ARN.
	info, _ := srv.Secret("s")
	got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(info.ARN), VersionId: aws.String(t1)})
	if err != nil {
		t.Fatalf("sm.GetSecretValue: %v", err)
	}
	if got2 := aws.ToString(got.SecretString); got2 != "one" {
		t.Fatalf("aws.ToString(got.SecretString) = %q, want %q", got2, "one")
	}
	got, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil {
		t.Fatalf("sm.GetSecretValue: %v", err)
	}
	if got2 := aws.ToString(got.SecretString); got2 != "two" {
		t.Fatalf("aws.ToString(got.SecretString) = %q, want %q", got2, "two")
	}
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
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	if out.Version != int64(1) {
		t.Fatalf("out.Version = %v, want %v", out.Version, int64(1))
	}
	_, err = put("/app/key", "v2", ssmtypes.ParameterTypeSecureString, false)
	requireCode(t, err, "ParameterAlreadyExists")
	out, err = put("/app/key", "v2", ssmtypes.ParameterTypeSecureString, true)
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	if out.Version != int64(2) {
		t.Fatalf("out.Version = %v, want %v", out.Version, int64(2))
	}
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
	if err != nil {
		t.Fatalf("ps.GetParameter: %v", err)
	}
	if got := aws.ToString(enc.Parameter.Value); got == "v2" {
		t.Fatalf("SecureString stays encrypted without WithDecryption: got %q, want anything else", got)
	}
	dec, err := ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/key"), WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatalf("ps.GetParameter: %v", err)
	}
	if got := aws.ToString(dec.Parameter.Value); got != "v2" {
		t.Fatalf("aws.ToString(dec.Parameter.Value) = %q, want %q", got, "v2")
	}
	old, err := ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/key:1"), WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatalf("ps.GetParameter: %v", err)
	}
	if got := aws.ToString(old.Parameter.Value); got != "v1" {
		t.Fatalf("aws.ToString(old.Parameter.Value) = %q, want %q", got, "v1")
	}
	_, err = ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/key:9")})
	requireCode(t, err, "ParameterVersionNotFound")
	_, err = ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/none")})
	requireCode(t, err, "ParameterNotFound")

	many, err := ps.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/app/key", "/app/none"}, WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatalf("ps.GetParameters: %v", err)
	}
	if len(many.Parameters) != 1 {
		t.Fatalf("len(many.Parameters) = %d, want %d: %+v", len(many.Parameters), 1, many.Parameters)
	}
	if want := []string{"/app/none"}; !reflect.DeepEqual(want, many.InvalidParameters) {
		t.Fatalf("many.InvalidParameters = %+v, want %+v", many.InvalidParameters, want)
	}
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
	if err != nil {
		t.Fatalf("sm.GetSecretValue: %v", err)
	}

	srv.FailNext("GetParameter", 1, "InternalServerError")
	_, err = ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/x")})
	requireCode(t, err, "InternalServerError")
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) {
		t.Fatalf("errors.As(err, &re): got false, want true")
	}
	if got := re.HTTPStatusCode(); got != http.StatusInternalServerError {
		t.Fatalf("re.HTTPStatusCode() = %v, want %v", got, http.StatusInternalServerError)
	}

	srv.Down(true)
	_, err = sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
	if err == nil {
		t.Fatalf("sm.DescribeSecret: got no error, want one")
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		t.Fatalf("a down server answers nothing: %v: got true, want false", err)
	}
	srv.Down(false)
	_, err = sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
	if err != nil {
		t.Fatalf("sm.DescribeSecret: %v", err)
	}

	srv.Stall(true)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := sm.DescribeSecret(cctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("<-done: got error %v, want one that is %v", err, context.Canceled)
	}
	srv.Stall(false)

	if got, want := srv.Calls()[:5], []string{"GetSecretValue", "GetSecretValue", "GetSecretValue", "GetParameter", "DescribeSecret"}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.Calls()[:5] = %+v, want %+v", got, want)
	}
}

func TestSecretValueNeverInErrors(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	sm, _ := clients(srv)
	secret := "value-that-must-not-leak"
	_, err := sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("none"),
		ClientRequestToken: aws.String("dddddddd-dddd-4ddd-8ddd-dddddddddddd"), SecretString: aws.String(secret)})
	requireCode(t, err, "ResourceNotFoundException")
	if got := err.Error(); strings.Contains(got, secret) {
		t.Fatalf("got %q, want it not to contain %q", got, secret)
	}
	_, err = sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("none"),
		ClientRequestToken: aws.String("dddddddd-dddd-4ddd-8ddd-dddddddddddd"), SecretString: aws.String(strings.Repeat(secret, 3000))})
	requireCode(t, err, "ValidationException")
	if got := err.Error(); strings.Contains(got, secret) {
		t.Fatalf("got %q, want it not to contain %q", got, secret)
	}
}
