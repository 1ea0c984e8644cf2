package awssm_test

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awssm"
	"github.com/rotator-dev/rotator/internal/sinks/awstest"
	"go.uber.org/zap"
)

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"{type: aws-secretsmanager, regoin: x}", `sinks.aws.regoin (line 1): unknown field "regoin"`},
		{"{type: aws-secretsmanager, endpoint: 'ftp://x'}", "sinks.aws.endpoint"},
		{"{type: aws-secretsmanager, endpoint: '/relative'}", "not an absolute http(s) URL"},
		{"{type: aws-secretsmanager, region: 'Europe'}", "sinks.aws.region"},
		{"{type: aws-secretsmanager, max_attempts: 50}", "sinks.aws.max_attempts"},
	} {
		_, err := awssm.ParseConfig(section(t, "sinks.aws", tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: got error %v, want one containing %q", tc.src, err, tc.want)
		}
		var fe *config.FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("%s: got false, want true", tc.src)
		}
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
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: got error %v, want one containing %q", tc.src, err, tc.want)
		}
	}
	_, err := s.Bind(section(t, "keys[0].sinks[0]", "{sink: aws, secret_id: "+strings.Repeat("a", 512)+"}"))
	if err != nil {
		t.Fatalf("a 512-character name is valid: %v", err)
	}
}

func TestNewNeedsRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_PROFILE", "")
	cfg, err := awssm.ParseConfig(section(t, "sinks.aws", "{type: aws-secretsmanager}"))
	if err != nil {
		t.Fatalf("awssm.ParseConfig: %v", err)
	}
	_, err = awssm.New(cfg, sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()})
	if err == nil || !strings.Contains(err.Error(), "region") {
		t.Fatalf("awssm.New: got error %v, want one containing %q", err, "region")
	}
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
	if err != nil {
		t.Fatalf("awssm.ParseConfig: %v", err)
	}
	s, err := awssm.New(cfg, sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()})
	if err != nil {
		t.Fatalf("awssm.New: %v", err)
	}
	got, err := bind(t, s, "{sink: aws, secret_id: mail/x}").Read(t.Context())
	if err != nil {
		t.Fatalf("bind(t, s, \"{sink: aws, secret_id: mail/x}\").Read: %v", err)
	}
	if want := (sinks.Secret{"key": "old"}); !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}
}

// TestIAMPolicyCoversEveryCall runs every operation of the sink and checks
// that the IAM policy in deploy/policies allows each AWS action it called, and nothing more.
func TestIAMPolicyCoversEveryCall(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	s := newSink(t, srv, sinks.Deps{})
	tg := bind(t, s, "{sink: aws, secret_id: prod/mail/new, create: true}")
	ctx := t.Context()
	if err := s.Check(ctx); err != nil {
		t.Fatalf("s.Check(ctx): %v", err)
	}
	for _, id := range []string{rotation1, rotation2} {
		_, err := tg.Write(ctx, write(id, sinks.Secret{"k": id}))
		if err != nil {
			t.Fatalf("tg.Write: %v", err)
		}
		_, err = tg.ReadPending(ctx, id)
		if err != nil {
			t.Fatalf("tg.ReadPending: %v", err)
		}
		if err := tg.Promote(ctx, write(id, nil)); err != nil {
			t.Fatalf("tg.Promote(ctx, write(id, nil)): %v", err)
		}
	}
	_, err := tg.Read(ctx)
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	srv.CreateSecret("prod/mail/theirs", `{"k":"v"}`)
	_, err = bind(t, s, "{sink: aws, secret_id: prod/mail/theirs, adopt: true}").Write(ctx, write(rotation1, sinks.Secret{"k": "v"}))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}

	called := map[string]bool{}
	for _, op := range srv.Calls() {
		called["secretsmanager:"+op] = true
	}
	called["secretsmanager:TagResource"] = true // CreateSecret with Tags needs it
	allowed, err := awstest.PolicyActions("../../../deploy/policies/aws-secretsmanager.json", "secretsmanager")
	if err != nil {
		t.Fatalf("awstest.PolicyActions: %v", err)
	}
	if !reflect.DeepEqual(called, allowed) {
		t.Fatalf("allowed = %+v, want %+v", allowed, called)
	}
}

func TestProfileFromSharedConfig(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/config", []byte("[profile rotator]\nregion = "+srv.Region()+"\n"), 0o600); err != nil {
		t.Fatalf("os.WriteFile: %v", err)
	}
	if err := os.WriteFile(dir+"/credentials", []byte(fmt.Sprintf(
		"[rotator]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey(), srv.SecretKey())), 0o600); err != nil {
		t.Fatalf("os.WriteFile: %v", err)
	}
	for k, v := range map[string]string{"AWS_CONFIG_FILE": dir + "/config", "AWS_SHARED_CREDENTIALS_FILE": dir + "/credentials",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": ""} {
		t.Setenv(k, v)
	}
	deps := sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()}

	cfg, err := awssm.ParseConfig(section(t, "sinks.aws", fmt.Sprintf("{type: aws-secretsmanager, profile: rotator, endpoint: %q}", srv.URL())))
	if err != nil {
		t.Fatalf("awssm.ParseConfig: %v", err)
	}
	s, err := awssm.New(cfg, deps)
	if err != nil {
		t.Fatalf("awssm.New: %v", err)
	}
	got, err := bind(t, s, "{sink: aws, secret_id: mail/x}").Read(t.Context())
	if err != nil {
		t.Fatalf("bind(t, s, \"{sink: aws, secret_id: mail/x}\").Read: %v", err)
	}
	if want := (sinks.Secret{"key": "old"}); !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}

	cfg.Profile = "absent"
	_, err = awssm.New(cfg, deps)
	if err == nil || !strings.Contains(err.Error(), "absent") {
		t.Fatalf("awssm.New: got error %v, want one containing %q", err, "absent")
	}
}

func TestNewAndBindMakeNoCall(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	s := newSink(t, srv, sinks.Deps{})
	bind(t, s, "{sink: aws, secret_id: a, create: true}")
	bind(t, s, "{sink: aws, secret_id: b}")
	if got := srv.Calls(); len(got) != 0 {
		t.Fatalf("srv.Calls() = %+v, want empty", got)
	}
	if err := s.Check(t.Context()); err == nil {
		t.Fatalf("b does not exist: got no error, want one")
	}
	if got, want := srv.Calls(), []string{"DescribeSecret", "DescribeSecret"}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.Calls() = %+v, want %+v", got, want)
	}
}
