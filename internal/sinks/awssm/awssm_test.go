package awssm_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awssm"
	"github.com/rotator-dev/rotator/internal/sinks/awstest"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
)

func section(t testing.TB, path, src string) config.Section {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(src), &doc))
	return config.Section{Path: path, Type: awssm.Type, Node: doc.Content[0]}
}

// newSink builds a sink on srv, with one attempt per call so that injected
// faults are not retried with backoff.
func newSink(t testing.TB, srv *awstest.Server, deps sinks.Deps) *awssm.Sink {
	t.Helper()
	cfg, err := awssm.ParseConfig(section(t, "sinks.aws",
		fmt.Sprintf("{type: aws-secretsmanager, region: %s, endpoint: %q, max_attempts: 1}", srv.Region(), srv.URL())))
	require.NoError(t, err)
	cfg.Credentials = srv.Credentials()
	if deps.Logger == nil {
		deps = sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock(), UserAgent: "rotator/test"}
	}
	s, err := awssm.New(cfg, deps)
	require.NoError(t, err)
	return s
}

func bind(t testing.TB, s *awssm.Sink, src string) *awssm.Target {
	t.Helper()
	tg, err := s.Bind(section(t, "keys[0].sinks[0]", src))
	require.NoError(t, err)
	return tg.(*awssm.Target)
}

func TestContract(t *testing.T) {
	servers := map[sinks.Target]*awstest.Server{}
	ids := map[sinks.Target]string{}
	n := 0
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T, deps sinks.Deps) sinks.Target {
			srv := awstest.New(awstest.Config{})
			t.Cleanup(srv.Close)
			n++
			id := fmt.Sprintf("prod/mail/contract-%d", n)
			tg := bind(t, newSink(t, srv, deps), "{sink: aws, secret_id: "+id+", create: true, fields: {a: b}}")
			servers[tg], ids[tg] = srv, id
			return tg
		},
		// Another writer puts a value (AWSCURRENT moves to it) after the
		// sink described the secret and before its PutSecretValue.
		Concurrent: func(t *testing.T, tg sinks.Target) {
			srv, id := servers[tg], ids[tg]
			srv.Before("PutSecretValue", func() { srv.PutSecretValue(id, `{"other":"writer"}`) })
		},
		Down: func(t *testing.T, tg sinks.Target) func() {
			servers[tg].Down(true)
			return func() { servers[tg].Down(false) }
		},
		Stall: func(t *testing.T, tg sinks.Target) func() {
			servers[tg].Stall(true)
			return func() { servers[tg].Stall(false) }
		},
		// Another team's secret: created without the tag.
		Foreign: func(t *testing.T, tg sinks.Target, data sinks.Secret) {
			b, err := json.Marshal(data)
			require.NoError(t, err)
			servers[tg].CreateSecret(ids[tg], string(b))
		},
		Rebind: func(t *testing.T, tg sinks.Target, adopt bool, deps sinks.Deps) sinks.Target {
			return bind(t, newSink(t, servers[tg], deps), fmt.Sprintf("{sink: aws, secret_id: %s, create: true, adopt: %t}", ids[tg], adopt))
		},
		Secrets: []string{awstest.DefaultSecretKey},
	})
}

// ours is the tag that makes a secret rotator's: the tests that pre-create
// a secret are about other things than ownership (see owner_test.go).
var ours = awstest.Tag{Key: "managed-by", Value: "rotator"}

const rotation1 = "0f8fad5b-d9cb-469f-a165-70867728950e"
const rotation2 = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

func write(id string, data sinks.Secret) sinks.Write {
	return sinks.Write{RotationID: id, KeyID: "k1", KeyName: "rotator-x", RotatedAt: time.Now(), Data: data}
}

func TestStageModel(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/smtpd", `{"key":"old"}`, ours)
	oldID := srv.SecretStages("mail/smtpd")["AWSCURRENT"]
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/smtpd}")
	ctx := t.Context()

	v, err := tg.Write(ctx, write(rotation1, sinks.Secret{"key": "new", "secret": "s1"}))
	require.NoError(t, err)
	require.Equal(t, rotation1, v, "the version id is the rotation id")
	require.Equal(t, map[string]string{"AWSCURRENT": oldID, "AWSPENDING": rotation1}, srv.SecretStages("mail/smtpd"))

	got, err := tg.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, sinks.Secret{"key": "old"}, got, "consumers see the old value until Promote")
	got, err = tg.ReadPending(ctx, rotation1)
	require.NoError(t, err)
	require.Equal(t, sinks.Secret{"key": "new", "secret": "s1"}, got)

	// A retry with the same token and value makes no new version.
	v, err = tg.Write(ctx, write(rotation1, sinks.Secret{"key": "new", "secret": "s1"}))
	require.NoError(t, err)
	require.Equal(t, rotation1, v)
	require.Len(t, srv.SecretVersions("mail/smtpd"), 2)

	require.NoError(t, tg.Promote(ctx, write(rotation1, nil)))
	require.Equal(t, map[string]string{"AWSCURRENT": rotation1, "AWSPREVIOUS": oldID}, srv.SecretStages("mail/smtpd"),
		"AWSCURRENT moved, AWSPREVIOUS followed, AWSPENDING removed")
	require.NoError(t, tg.Promote(ctx, write(rotation1, nil)), "Promote is idempotent")
	require.Equal(t, map[string]string{"AWSCURRENT": rotation1, "AWSPREVIOUS": oldID}, srv.SecretStages("mail/smtpd"))

	got, err = tg.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, sinks.Secret{"key": "new", "secret": "s1"}, got)

	// The next rotation: AWSPREVIOUS moves on.
	_, err = tg.Write(ctx, write(rotation2, sinks.Secret{"key": "newer"}))
	require.NoError(t, err)
	require.NoError(t, tg.Promote(ctx, write(rotation2, nil)))
	require.Equal(t, map[string]string{"AWSCURRENT": rotation2, "AWSPREVIOUS": rotation1}, srv.SecretStages("mail/smtpd"))
	val, _ := srv.SecretValue("mail/smtpd", "AWSCURRENT")
	require.JSONEq(t, `{"key":"newer"}`, val)
}

func TestSameTokenOtherValueIsConflict(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x}")
	_, err := tg.Write(t.Context(), write(rotation1, sinks.Secret{"key": "value-one"}))
	require.NoError(t, err)
	_, err = tg.Write(t.Context(), write(rotation1, sinks.Secret{"key": "value-two"}))
	require.ErrorIs(t, err, sinks.ErrConflict)
	require.ErrorContains(t, err, "ResourceExistsException")
	require.NotContains(t, err.Error(), "value-two")
	require.NotContains(t, err.Error(), "value-one")
}

func TestShortRotationIDMapsToStableToken(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x, create: true}")
	v1, err := tg.Write(t.Context(), write("r1", sinks.Secret{"k": "v"}))
	require.NoError(t, err)
	v2, err := tg.Write(t.Context(), write("r1", sinks.Secret{"k": "v"}))
	require.NoError(t, err)
	require.Equal(t, v1, v2)
	require.GreaterOrEqual(t, len(v1), 32)
	got, err := tg.ReadPending(t.Context(), "r1")
	require.NoError(t, err)
	require.Equal(t, sinks.Secret{"k": "v"}, got)
}

func TestCreate(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	s := newSink(t, srv, sinks.Deps{})
	tg := bind(t, s, "{sink: aws, secret_id: prod/new, create: true, kms_key_id: alias/rotator}")
	require.NoError(t, s.Check(t.Context()), "a missing secret is fine with create: true")

	_, err := tg.Write(t.Context(), write(rotation1, sinks.Secret{"api_key": "k"}))
	require.NoError(t, err)
	info, ok := srv.Secret("prod/new")
	require.True(t, ok)
	require.Equal(t, "alias/rotator", info.KMSKeyID)
	require.Equal(t, []awstest.Tag{{Key: "managed-by", Value: "rotator"}}, info.Tags)
	// The first version of a secret is AWSCURRENT at once (AWS's rule).
	require.Equal(t, map[string]string{"AWSCURRENT": rotation1, "AWSPENDING": rotation1}, srv.SecretStages("prod/new"))
	require.NoError(t, tg.Promote(t.Context(), write(rotation1, nil)))
	require.Equal(t, map[string]string{"AWSCURRENT": rotation1}, srv.SecretStages("prod/new"))
}

func TestMissingSecretWithoutCreate(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	s := newSink(t, srv, sinks.Deps{})
	tg := bind(t, s, "{sink: aws, secret_id: prod/absent}")
	err := s.Check(t.Context())
	require.ErrorContains(t, err, "prod/absent")
	require.ErrorContains(t, err, "ResourceNotFoundException")
	require.ErrorContains(t, err, "create: true")

	_, err = tg.Write(t.Context(), write(rotation1, sinks.Secret{"k": "v"}))
	require.ErrorContains(t, err, "prod/absent")
	require.ErrorContains(t, err, "ResourceNotFoundException")
	require.ErrorContains(t, err, "create: true")
	require.NotErrorIs(t, err, sinks.ErrNotFound)
	_, ok := srv.Secret("prod/absent")
	require.False(t, ok, "nothing was created")
	_, err = tg.Read(t.Context())
	require.ErrorIs(t, err, sinks.ErrNotFound)
}

func TestPromoteConflictWhenNewerVersionBecameCurrent(t *testing.T) {
	clk := clockwork.NewFakeClock() // dates the server's versions
	srv := awstest.New(awstest.Config{Clock: clk})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x}")
	_, err := tg.Write(t.Context(), write(rotation1, sinks.Secret{"key": "ours"}))
	require.NoError(t, err)
	clk.Advance(time.Second)
	other := srv.PutSecretValue("mail/x", `{"key":"theirs"}`)

	err = tg.Promote(t.Context(), write(rotation1, nil))
	require.ErrorIs(t, err, sinks.ErrConflict)
	require.Equal(t, other, srv.SecretStages("mail/x")["AWSCURRENT"], "the other writer's value stays current")
}

func TestPromoteRaceOnUpdateIsConflict(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x}")
	_, err := tg.Write(t.Context(), write(rotation1, sinks.Secret{"key": "ours"}))
	require.NoError(t, err)
	// Between the listing and the update, someone moves AWSCURRENT: AWS
	// refuses the update (RemoveFromVersionId no longer matches) and a
	// second look finds AWSCURRENT on another version than ours.
	srv.Before("UpdateSecretVersionStage", func() { srv.PutSecretValue("mail/x", `{"key":"theirs"}`) })
	err = tg.Promote(t.Context(), write(rotation1, nil))
	require.ErrorIs(t, err, sinks.ErrConflict)
	require.ErrorContains(t, err, "InvalidParameterException")
	require.Equal(t, 2, srv.CallCount("ListSecretVersionIds"))
	require.NotEqual(t, rotation1, srv.SecretStages("mail/x")["AWSCURRENT"])
}

func TestPromoteRemovesStalePending(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x}")
	// An abandoned rotation staged a value earlier; ours takes AWSPENDING
	// over from it on Write, and Promote leaves no AWSPENDING anywhere.
	stale := srv.PutSecretValue("mail/x", `{"key":"abandoned"}`, "AWSPENDING")
	_, err := tg.Write(t.Context(), write(rotation1, sinks.Secret{"key": "ours"}))
	require.NoError(t, err)
	require.Equal(t, rotation1, srv.SecretStages("mail/x")["AWSPENDING"])
	require.NoError(t, tg.Promote(t.Context(), write(rotation1, nil)))
	stages := srv.SecretStages("mail/x")
	require.NotContains(t, stages, "AWSPENDING")
	require.Equal(t, rotation1, stages["AWSCURRENT"])
	require.NotEqual(t, stale, stages["AWSCURRENT"])
}

func TestPromoteUnknownVersion(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x}")
	err := tg.Promote(t.Context(), write(rotation1, nil))
	require.ErrorIs(t, err, sinks.ErrNotFound)
	_, err = tg.ReadPending(t.Context(), rotation1)
	require.ErrorIs(t, err, sinks.ErrNotFound)
}

func TestConcurrentWritesOfDifferentRotations(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x}")
	var wg sync.WaitGroup
	for _, id := range []string{rotation1, rotation2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := tg.Write(t.Context(), write(id, sinks.Secret{"key": id}))
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	// Both staged; the label is on exactly one of them.
	require.Len(t, srv.SecretVersions("mail/x"), 3)
	n := 0
	for _, v := range srv.SecretVersions("mail/x") {
		for _, l := range v.Stages {
			if l == "AWSPENDING" {
				n++
			}
		}
	}
	require.Equal(t, 1, n)
}

func TestFaultsNameTheSecretAndCode(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	core, logs := observer.New(zapcore.DebugLevel)
	s := newSink(t, srv, sinks.Deps{Name: "aws", Logger: zap.New(core), Clock: clockwork.NewFakeClock()})
	tg := bind(t, s, "{sink: aws, secret_id: mail/x}")
	secret := "very-secret-api-key-value"

	srv.FailNext("PutSecretValue", 1, "ThrottlingException")
	_, err := tg.Write(t.Context(), write(rotation1, sinks.Secret{"api_key": secret}))
	require.ErrorContains(t, err, "mail/x")
	require.ErrorContains(t, err, "ThrottlingException")
	require.NotErrorIs(t, err, sinks.ErrConflict)

	srv.FailNext("GetSecretValue", 1, "AccessDeniedException")
	_, err = tg.Read(t.Context())
	require.ErrorContains(t, err, "AccessDeniedException")
	require.NotErrorIs(t, err, sinks.ErrNotFound)

	srv.FailNext("DescribeSecret", 1, "AccessDeniedException")
	err = s.Check(t.Context())
	require.ErrorContains(t, err, "mail/x")
	require.ErrorContains(t, err, "AccessDeniedException")

	_, err = tg.Write(t.Context(), write(rotation1, sinks.Secret{"api_key": secret}))
	require.NoError(t, err)
	require.NoError(t, tg.Promote(t.Context(), write(rotation1, nil)))
	sinktest.AssertLogsNoSecret(t, logs, secret)
	require.NotZero(t, logs.Len())
}

func TestRetriesThrottlingWithSDKDefaults(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	cfg, err := awssm.ParseConfig(section(t, "sinks.aws", fmt.Sprintf("{type: aws-secretsmanager, region: us-east-1, endpoint: %q, max_attempts: 2}", srv.URL())))
	require.NoError(t, err)
	cfg.Credentials = srv.Credentials()
	s, err := awssm.New(cfg, sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()})
	require.NoError(t, err)
	tg := bind(t, s, "{sink: aws, secret_id: mail/x}")
	srv.FailNext("GetSecretValue", 1, "InternalServiceError")
	got, err := tg.Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, sinks.Secret{"key": "old"}, got)
	require.Equal(t, 2, srv.CallCount("GetSecretValue"))
}

func TestBadSignatureRejected(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	for name, tc := range map[string]struct{ ak, sk, code string }{
		"wrong secret key":   {awstest.DefaultAccessKey, "not-the-secret", "InvalidSignatureException"},
		"unknown access key": {"AKIDUNKNOWN", awstest.DefaultSecretKey, "UnrecognizedClientException"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := awssm.ParseConfig(section(t, "sinks.aws", fmt.Sprintf("{type: aws-secretsmanager, region: us-east-1, endpoint: %q, max_attempts: 1}", srv.URL())))
			require.NoError(t, err)
			cfg.Credentials = credentials.NewStaticCredentialsProvider(tc.ak, tc.sk, "")
			s, err := awssm.New(cfg, sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()})
			require.NoError(t, err)
			tg := bind(t, s, "{sink: aws, secret_id: mail/x}")
			_, err = tg.Read(t.Context())
			require.ErrorContains(t, err, tc.code)
			require.NotContains(t, err.Error(), tc.sk)
		})
	}
	// Wrong region in the credential scope.
	cfg, err := awssm.ParseConfig(section(t, "sinks.aws", fmt.Sprintf("{type: aws-secretsmanager, region: eu-west-1, endpoint: %q, max_attempts: 1}", srv.URL())))
	require.NoError(t, err)
	cfg.Credentials = srv.Credentials()
	s, err := awssm.New(cfg, sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()})
	require.NoError(t, err)
	_, err = bind(t, s, "{sink: aws, secret_id: mail/x}").Read(t.Context())
	require.ErrorContains(t, err, "InvalidSignatureException")
}

func TestValueIsJSONOfFields(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x, create: true}")
	data := sinks.Secret{"api_key": "k\"\n'", "key_id": "42", "created_at": "2026-11-23T03:00:00Z"}
	_, err := tg.Write(t.Context(), write(rotation1, data))
	require.NoError(t, err)
	val, ok := srv.SecretValue("mail/x", "AWSPENDING")
	require.True(t, ok)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(val), &got))
	require.Equal(t, map[string]string(data), got)

	srv.PutSecretValue("mail/x", "not json")
	_, err = tg.Read(t.Context())
	require.ErrorContains(t, err, "not a JSON object")
	require.NotContains(t, err.Error(), "not json")
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"{type: aws-secretsmanager, regoin: x}", `sinks.aws.regoin (line 1): unknown field "regoin"`},
		{"{type: aws-secretsmanager, endpoint: 'ftp://x'}", "sinks.aws.endpoint"},
		{"{type: aws-secretsmanager, endpoint: '/relative'}", "not an absolute http(s) URL"},
		{"{type: aws-secretsmanager, region: 'Europe'}", "sinks.aws.region"},
		{"{type: aws-secretsmanager, max_attempts: 50}", "sinks.aws.max_attempts"},
	} {
		_, err := awssm.ParseConfig(section(t, "sinks.aws", tc.src))
		require.ErrorContains(t, err, tc.want, tc.src)
		var fe *config.FieldError
		require.True(t, errors.As(err, &fe), tc.src)
	}
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	s := newSink(t, srv, sinks.Deps{})
	for _, tc := range []struct{ src, want string }{
		{"{sink: aws}", "keys[0].sinks[0].secret_id"},
		{"{sink: aws, secret_id: 'bad name!'}", "not a valid secret name"},
		{"{sink: aws, secret_id: " + strings.Repeat("a", 513) + "}", "not a valid secret name"},
		{"{sink: aws, secret_id: 'arn:aws:s3:::bucket'}", "not a Secrets Manager ARN"},
		{"{sink: aws, secret_id: 'arn:aws:secretsmanager:us-east-1:1:secret:x-abcdef', create: true}", "keys[0].sinks[0].create"},
		{"{sink: aws, secret_id: x, kms_key_id: k}", "keys[0].sinks[0].kms_key_id"},
		{"{sink: aws, secret_id: x, path: y}", `unknown field "path"`},
	} {
		_, err := s.Bind(section(t, "keys[0].sinks[0]", tc.src))
		require.ErrorContains(t, err, tc.want, tc.src)
	}
	_, err := s.Bind(section(t, "keys[0].sinks[0]", "{sink: aws, secret_id: "+strings.Repeat("a", 512)+"}"))
	require.NoError(t, err, "a 512-character name is valid")
}

func TestNewNeedsRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_PROFILE", "")
	cfg, err := awssm.ParseConfig(section(t, "sinks.aws", "{type: aws-secretsmanager}"))
	require.NoError(t, err)
	_, err = awssm.New(cfg, sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()})
	require.ErrorContains(t, err, "region")
}

func TestDefaultCredentialChainFromEnvironment(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	cfg, err := awssm.ParseConfig(section(t, "sinks.aws", fmt.Sprintf("{type: aws-secretsmanager, endpoint: %q}", srv.URL())))
	require.NoError(t, err)
	s, err := awssm.New(cfg, sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()})
	require.NoError(t, err)
	got, err := bind(t, s, "{sink: aws, secret_id: mail/x}").Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, sinks.Secret{"key": "old"}, got)
}

// TestIAMPolicyCoversEveryCall runs every operation of the sink and checks
// that the IAM policy in deploy/policies allows each AWS action it called, and nothing more.
func TestIAMPolicyCoversEveryCall(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	s := newSink(t, srv, sinks.Deps{})
	tg := bind(t, s, "{sink: aws, secret_id: prod/mail/new, create: true}")
	ctx := t.Context()
	require.NoError(t, s.Check(ctx))
	for _, id := range []string{rotation1, rotation2} {
		_, err := tg.Write(ctx, write(id, sinks.Secret{"k": id}))
		require.NoError(t, err)
		_, err = tg.ReadPending(ctx, id)
		require.NoError(t, err)
		require.NoError(t, tg.Promote(ctx, write(id, nil)))
	}
	_, err := tg.Read(ctx)
	require.NoError(t, err)
	srv.CreateSecret("prod/mail/theirs", `{"k":"v"}`)
	_, err = bind(t, s, "{sink: aws, secret_id: prod/mail/theirs, adopt: true}").Write(ctx, write(rotation1, sinks.Secret{"k": "v"}))
	require.NoError(t, err)

	called := map[string]bool{}
	for _, op := range srv.Calls() {
		called["secretsmanager:"+op] = true
	}
	called["secretsmanager:TagResource"] = true // CreateSecret with Tags needs it
	allowed, err := awstest.PolicyActions("../../../deploy/policies/aws-secretsmanager.json", "secretsmanager")
	require.NoError(t, err)
	require.Equal(t, called, allowed)
}

func TestProfileFromSharedConfig(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(dir+"/config", []byte("[profile rotator]\nregion = "+srv.Region()+"\n"), 0o600))
	require.NoError(t, os.WriteFile(dir+"/credentials", []byte(fmt.Sprintf(
		"[rotator]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey(), srv.SecretKey())), 0o600))
	for k, v := range map[string]string{"AWS_CONFIG_FILE": dir + "/config", "AWS_SHARED_CREDENTIALS_FILE": dir + "/credentials",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": ""} {
		t.Setenv(k, v)
	}
	deps := sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()}

	cfg, err := awssm.ParseConfig(section(t, "sinks.aws", fmt.Sprintf("{type: aws-secretsmanager, profile: rotator, endpoint: %q}", srv.URL())))
	require.NoError(t, err)
	s, err := awssm.New(cfg, deps)
	require.NoError(t, err)
	got, err := bind(t, s, "{sink: aws, secret_id: mail/x}").Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, sinks.Secret{"key": "old"}, got)

	cfg.Profile = "absent"
	_, err = awssm.New(cfg, deps)
	require.ErrorContains(t, err, "absent")
}

func TestPromoteRacingItselfSucceeds(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	old := srv.SecretStages("mail/x")["AWSCURRENT"]
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x}")
	_, err := tg.Write(t.Context(), write(rotation1, sinks.Secret{"key": "ours"}))
	require.NoError(t, err)
	// Another Promote of the same version lands between our listing and
	// our update: AWS refuses ours, and the version is current anyway.
	srv.Before("UpdateSecretVersionStage", func() { srv.MoveStage("mail/x", "AWSCURRENT", rotation1) })
	require.NoError(t, tg.Promote(t.Context(), write(rotation1, nil)))
	require.Equal(t, map[string]string{"AWSCURRENT": rotation1, "AWSPREVIOUS": old}, srv.SecretStages("mail/x"))
}

func TestNewAndBindMakeNoCall(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	s := newSink(t, srv, sinks.Deps{})
	bind(t, s, "{sink: aws, secret_id: a, create: true}")
	bind(t, s, "{sink: aws, secret_id: b}")
	require.Empty(t, srv.Calls())
	require.Error(t, s.Check(t.Context()), "b does not exist")
	require.Equal(t, []string{"DescribeSecret", "DescribeSecret"}, srv.Calls())
}

// TestPreviousIsAWSPREVIOUS: after a promotion the previous value stays
// readable under AWSPREVIOUS, for keep-alive of a key in grace.
func TestPreviousIsAWSPREVIOUS(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/h, create: true}")
	ctx := t.Context()
	prev, err := tg.Previous(ctx, 3)
	require.NoError(t, err)
	require.Empty(t, prev)
	for _, r := range []struct{ id, key string }{{rotation1, "first"}, {rotation2, "second"}} {
		_, err := tg.Write(ctx, write(r.id, sinks.Secret{"key": r.key}))
		require.NoError(t, err)
		require.NoError(t, tg.Promote(ctx, write(r.id, nil)))
	}
	prev, err = tg.Previous(ctx, 3)
	require.NoError(t, err)
	require.Equal(t, []sinks.Secret{{"key": "first"}}, prev)
}
