package awssm_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jonboulle/clockwork"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awssm"
	"github.com/rotator-dev/rotator/internal/sinks/awstest"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

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
	if err == nil || !strings.Contains(err.Error(), "mail/x") {
		t.Fatalf("tg.Write: got error %v, want one containing %q", err, "mail/x")
	}
	if err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Fatalf("got error %v, want one containing %q", err, "ThrottlingException")
	}
	if errors.Is(err, sinks.ErrConflict) {
		t.Fatalf("got error %v, want one that is not %v", err, sinks.ErrConflict)
	}

	srv.FailNext("GetSecretValue", 1, "AccessDeniedException")
	_, err = tg.Read(t.Context())
	if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("tg.Read: got error %v, want one containing %q", err, "AccessDeniedException")
	}
	if errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("got error %v, want one that is not %v", err, sinks.ErrNotFound)
	}

	srv.FailNext("DescribeSecret", 1, "AccessDeniedException")
	err = s.Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "mail/x") {
		t.Fatalf("s.Check: got error %v, want one containing %q", err, "mail/x")
	}
	if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("got error %v, want one containing %q", err, "AccessDeniedException")
	}

	_, err = tg.Write(t.Context(), write(rotation1, sinks.Secret{"api_key": secret}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if err := tg.Promote(t.Context(), write(rotation1, nil)); err != nil {
		t.Fatalf("tg.Promote(t.Context(), write(rotation1, nil)): %v", err)
	}
	sinktest.AssertLogsNoSecret(t, logs, secret)
	if got := logs.Len(); got == 0 {
		t.Fatalf("logs.Len() = %v, want non-zero", got)
	}
}

func TestRetriesThrottlingWithSDKDefaults(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	cfg, err := awssm.ParseConfig(section(t, "sinks.aws", fmt.Sprintf("{type: aws-secretsmanager, region: us-east-1, endpoint: %q, max_attempts: 2}", srv.URL())))
	if err != nil {
		t.Fatalf("awssm.ParseConfig: %v", err)
	}
	cfg.Credentials = srv.Credentials()
	s, err := awssm.New(cfg, sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()})
	if err != nil {
		t.Fatalf("awssm.New: %v", err)
	}
	tg := bind(t, s, "{sink: aws, secret_id: mail/x}")
	srv.FailNext("GetSecretValue", 1, "InternalServiceError")
	got, err := tg.Read(t.Context())
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if want := (sinks.Secret{"key": "old"}); !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}
	if got := srv.CallCount("GetSecretValue"); got != 2 {
		t.Fatalf("srv.CallCount(\"GetSecretValue\") = %v, want %v", got, 2)
	}
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
			if err != nil {
				t.Fatalf("awssm.ParseConfig: %v", err)
			}
			cfg.Credentials = credentials.NewStaticCredentialsProvider(tc.ak, tc.sk, "")
			s, err := awssm.New(cfg, sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()})
			if err != nil {
				t.Fatalf("awssm.New: %v", err)
			}
			tg := bind(t, s, "{sink: aws, secret_id: mail/x}")
			_, err = tg.Read(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("tg.Read: got error %v, want one containing %q", err, tc.code)
			}
			if got := err.Error(); strings.Contains(got, tc.sk) {
				t.Fatalf("got %q, want it not to contain %q", got, tc.sk)
			}
		})
	}
	// Wrong region in the credential scope.
	cfg, err := awssm.ParseConfig(section(t, "sinks.aws", fmt.Sprintf("{type: aws-secretsmanager, region: eu-west-1, endpoint: %q, max_attempts: 1}", srv.URL())))
	if err != nil {
		t.Fatalf("awssm.ParseConfig: %v", err)
	}
	cfg.Credentials = srv.Credentials()
	s, err := awssm.New(cfg, sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()})
	if err != nil {
		t.Fatalf("awssm.New: %v", err)
	}
	_, err = bind(t, s, "{sink: aws, secret_id: mail/x}").Read(t.Context())
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("bind(t, s, \"{sink: aws, secret_id: mail/x}\").Read: got error %v, want one containing %q", err, "InvalidSignatureException")
	}
}
