package awssm_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jonboulle/clockwork"
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
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml.Unmarshal([]byte(src), &doc): %v", err)
	}
	return config.Section{Path: path, Type: awssm.Type, Node: doc.Content[0]}
}

// newSink builds a sink on srv, with one attempt per call so that injected
// faults are not retried with backoff.
func newSink(t testing.TB, srv *awstest.Server, deps sinks.Deps) *awssm.Sink {
	t.Helper()
	cfg, err := awssm.ParseConfig(section(t, "sinks.aws",
		fmt.Sprintf("{type: aws-secretsmanager, region: %s, endpoint: %q, max_attempts: 1}", srv.Region(), srv.URL())))
	if err != nil {
		t.Fatalf("awssm.ParseConfig: %v", err)
	}
	cfg.Credentials = srv.Credentials()
	if deps.Logger == nil {
		deps = sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock(), UserAgent: "rotator/test"}
	}
	s, err := awssm.New(cfg, deps)
	if err != nil {
		t.Fatalf("awssm.New: %v", err)
	}
	return s
}

func bind(t testing.TB, s *awssm.Sink, src string) *awssm.Target {
	t.Helper()
	tg, err := s.Bind(section(t, "keys[0].sinks[0]", src))
	if err != nil {
		t.Fatalf("s.Bind: %v", err)
	}
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
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
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
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if v != rotation1 {
		t.Fatalf("the version id is the rotation id: got %q, want %q", v, rotation1)
	}
	if got, want := srv.SecretStages("mail/smtpd"), map[string]string{"AWSCURRENT": oldID, "AWSPENDING": rotation1}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.SecretStages(\"mail/smtpd\") = %+v, want %+v", got, want)
	}

	got, err := tg.Read(ctx)
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if want := (sinks.Secret{"key": "old"}); !reflect.DeepEqual(want, got) {
		t.Fatalf("consumers see the old value until Promote: got %+v, want %+v", got, want)
	}
	got, err = tg.ReadPending(ctx, rotation1)
	if err != nil {
		t.Fatalf("tg.ReadPending: %v", err)
	}
	if want := (sinks.Secret{"key": "new", "secret": "s1"}); !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}

	// A retry with the same token and value makes no new version.
	v, err = tg.Write(ctx, write(rotation1, sinks.Secret{"key": "new", "secret": "s1"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if v != rotation1 {
		t.Fatalf("v = %q, want %q", v, rotation1)
	}
	if got := srv.SecretVersions("mail/smtpd"); len(got) != 2 {
		t.Fatalf("len(srv.SecretVersions(\"mail/smtpd\")) = %d, want %d: %+v", len(got), 2, got)
	}

	if err := tg.Promote(ctx, write(rotation1, nil)); err != nil {
		t.Fatalf("tg.Promote(ctx, write(rotation1, nil)): %v", err)
	}
	if got, want := srv.SecretStages("mail/smtpd"), map[string]string{"AWSCURRENT": rotation1, "AWSPREVIOUS": oldID}; !reflect.DeepEqual(want, got) {
		t.Fatalf("AWSCURRENT moved, AWSPREVIOUS followed, AWSPENDING removed: got %+v, want %+v", got, want)
	}
	if err := tg.Promote(ctx, write(rotation1, nil)); err != nil {
		t.Fatalf("Promote is idempotent: %v", err)
	}
	if got, want := srv.SecretStages("mail/smtpd"), map[string]string{"AWSCURRENT": rotation1, "AWSPREVIOUS": oldID}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.SecretStages(\"mail/smtpd\") = %+v, want %+v", got, want)
	}

	got, err = tg.Read(ctx)
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if want := (sinks.Secret{"key": "new", "secret": "s1"}); !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}

	// The next rotation: AWSPREVIOUS moves on.
	_, err = tg.Write(ctx, write(rotation2, sinks.Secret{"key": "newer"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if err := tg.Promote(ctx, write(rotation2, nil)); err != nil {
		t.Fatalf("tg.Promote(ctx, write(rotation2, nil)): %v", err)
	}
	if got, want := srv.SecretStages("mail/smtpd"), map[string]string{"AWSCURRENT": rotation2, "AWSPREVIOUS": rotation1}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.SecretStages(\"mail/smtpd\") = %+v, want %+v", got, want)
	}
	val, _ := srv.SecretValue("mail/smtpd", "AWSCURRENT")
	if want, got := jsonValue(t, `{"key":"newer"}`), jsonValue(t, val); !reflect.DeepEqual(want, got) {
		t.Fatalf("got JSON %s, want %s", val, `{"key":"newer"}`)
	}
}

func TestSameTokenOtherValueIsConflict(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x}")
	_, err := tg.Write(t.Context(), write(rotation1, sinks.Secret{"key": "value-one"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	_, err = tg.Write(t.Context(), write(rotation1, sinks.Secret{"key": "value-two"}))
	if !errors.Is(err, sinks.ErrConflict) {
		t.Fatalf("tg.Write: got error %v, want one that is %v", err, sinks.ErrConflict)
	}
	if err == nil || !strings.Contains(err.Error(), "ResourceExistsException") {
		t.Fatalf("got error %v, want one containing %q", err, "ResourceExistsException")
	}
	if got := err.Error(); strings.Contains(got, "value-two") {
		t.Fatalf("got %q, want it not to contain %q", got, "value-two")
	}
	if got := err.Error(); strings.Contains(got, "value-one") {
		t.Fatalf("got %q, want it not to contain %q", got, "value-one")
	}
}

func TestShortRotationIDMapsToStableToken(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x, create: true}")
	v1, err := tg.Write(t.Context(), write("r1", sinks.Secret{"k": "v"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	v2, err := tg.Write(t.Context(), write("r1", sinks.Secret{"k": "v"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if v2 != v1 {
		t.Fatalf("v2 = %q, want %q", v2, v1)
	}
	if len(v1) < 32 {
		t.Fatalf("len(v1) = %v, want at least %v", len(v1), 32)
	}
	got, err := tg.ReadPending(t.Context(), "r1")
	if err != nil {
		t.Fatalf("tg.ReadPending: %v", err)
	}
	if want := (sinks.Secret{"k": "v"}); !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}
}

func TestCreate(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	s := newSink(t, srv, sinks.Deps{})
	tg := bind(t, s, "{sink: aws, secret_id: prod/new, create: true, kms_key_id: alias/rotator}")
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("a missing secret is fine with create: true: %v", err)
	}

	_, err := tg.Write(t.Context(), write(rotation1, sinks.Secret{"api_key": "k"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	info, ok := srv.Secret("prod/new")
	if !ok {
		t.Fatalf("ok: got false, want true")
	}
	if info.KMSKeyID != "alias/rotator" {
		t.Fatalf("info.KMSKeyID = %q, want %q", info.KMSKeyID, "alias/rotator")
	}
	if want := []awstest.Tag{{Key: "managed-by", Value: "rotator"}}; !reflect.DeepEqual(want, info.Tags) {
		t.Fatalf("info.Tags = %+v, want %+v", info.Tags, want)
	}
	// The first version of a secret is AWSCURRENT at once (AWS's rule).
	if got, want := srv.SecretStages("prod/new"), map[string]string{"AWSCURRENT": rotation1, "AWSPENDING": rotation1}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.SecretStages(\"prod/new\") = %+v, want %+v", got, want)
	}
	if err := tg.Promote(t.Context(), write(rotation1, nil)); err != nil {
		t.Fatalf("tg.Promote(t.Context(), write(rotation1, nil)): %v", err)
	}
	if got, want := srv.SecretStages("prod/new"), map[string]string{"AWSCURRENT": rotation1}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.SecretStages(\"prod/new\") = %+v, want %+v", got, want)
	}
}

func TestMissingSecretWithoutCreate(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	s := newSink(t, srv, sinks.Deps{})
	tg := bind(t, s, "{sink: aws, secret_id: prod/absent}")
	err := s.Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "prod/absent") {
		t.Fatalf("s.Check: got error %v, want one containing %q", err, "prod/absent")
	}
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("got error %v, want one containing %q", err, "ResourceNotFoundException")
	}
	if err == nil || !strings.Contains(err.Error(), "create: true") {
		t.Fatalf("got error %v, want one containing %q", err, "create: true")
	}

	_, err = tg.Write(t.Context(), write(rotation1, sinks.Secret{"k": "v"}))
	if err == nil || !strings.Contains(err.Error(), "prod/absent") {
		t.Fatalf("tg.Write: got error %v, want one containing %q", err, "prod/absent")
	}
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("got error %v, want one containing %q", err, "ResourceNotFoundException")
	}
	if err == nil || !strings.Contains(err.Error(), "create: true") {
		t.Fatalf("got error %v, want one containing %q", err, "create: true")
	}
	if errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("got error %v, want one that is not %v", err, sinks.ErrNotFound)
	}
	_, ok := srv.Secret("prod/absent")
	if ok {
		t.Fatalf("nothing was created: got true, want false")
	}
	_, err = tg.Read(t.Context())
	if !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("tg.Read: got error %v, want one that is %v", err, sinks.ErrNotFound)
	}
}

func TestPromoteConflictWhenNewerVersionBecameCurrent(t *testing.T) {
	clk := clockwork.NewFakeClock() // dates the server's versions
	srv := awstest.New(awstest.Config{Clock: clk})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x}")
	_, err := tg.Write(t.Context(), write(rotation1, sinks.Secret{"key": "ours"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	clk.Advance(time.Second)
	other := srv.PutSecretValue("mail/x", `{"key":"theirs"}`)

	err = tg.Promote(t.Context(), write(rotation1, nil))
	if !errors.Is(err, sinks.ErrConflict) {
		t.Fatalf("tg.Promote: got error %v, want one that is %v", err, sinks.ErrConflict)
	}
	if got := srv.SecretStages("mail/x")["AWSCURRENT"]; got != other {
		t.Fatalf("the other writer's value stays current: got %q, want %q", got, other)
	}
}

func TestPromoteRaceOnUpdateIsConflict(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x}")
	_, err := tg.Write(t.Context(), write(rotation1, sinks.Secret{"key": "ours"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	// Between the listing and the update, someone moves AWSCURRENT: AWS
	// refuses the update (RemoveFromVersionId no longer matches) and a
	// second look finds AWSCURRENT on another version than ours.
	srv.Before("UpdateSecretVersionStage", func() { srv.PutSecretValue("mail/x", `{"key":"theirs"}`) })
	err = tg.Promote(t.Context(), write(rotation1, nil))
	if !errors.Is(err, sinks.ErrConflict) {
		t.Fatalf("tg.Promote: got error %v, want one that is %v", err, sinks.ErrConflict)
	}
	if err == nil || !strings.Contains(err.Error(), "InvalidParameterException") {
		t.Fatalf("got error %v, want one containing %q", err, "InvalidParameterException")
	}
	if got := srv.CallCount("ListSecretVersionIds"); got != 2 {
		t.Fatalf("srv.CallCount(\"ListSecretVersionIds\") = %v, want %v", got, 2)
	}
	if got := srv.SecretStages("mail/x")["AWSCURRENT"]; got == rotation1 {
		t.Fatalf("srv.SecretStages(\"mail/x\")[\"AWSCURRENT\"] = %q, want anything else", got)
	}
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
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if got := srv.SecretStages("mail/x")["AWSPENDING"]; got != rotation1 {
		t.Fatalf("srv.SecretStages(\"mail/x\")[\"AWSPENDING\"] = %q, want %q", got, rotation1)
	}
	if err := tg.Promote(t.Context(), write(rotation1, nil)); err != nil {
		t.Fatalf("tg.Promote(t.Context(), write(rotation1, nil)): %v", err)
	}
	stages := srv.SecretStages("mail/x")
	if _, ok := stages["AWSPENDING"]; ok {
		t.Fatalf("got %+v, want no key %+v", stages, "AWSPENDING")
	}
	if stages["AWSCURRENT"] != rotation1 {
		t.Fatalf("stages[\"AWSCURRENT\"] = %q, want %q", stages["AWSCURRENT"], rotation1)
	}
	if stages["AWSCURRENT"] == stale {
		t.Fatalf("stages[\"AWSCURRENT\"] = %q, want anything else", stages["AWSCURRENT"])
	}
}

func TestPromoteUnknownVersion(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x}")
	err := tg.Promote(t.Context(), write(rotation1, nil))
	if !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("tg.Promote: got error %v, want one that is %v", err, sinks.ErrNotFound)
	}
	_, err = tg.ReadPending(t.Context(), rotation1)
	if !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("tg.ReadPending: got error %v, want one that is %v", err, sinks.ErrNotFound)
	}
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
			if err != nil {
				t.Errorf("tg.Write: %v", err) // not Fatalf: this is not the test's goroutine
				return
			}
		}()
	}
	wg.Wait()
	// Both staged; the label is on exactly one of them.
	if got := srv.SecretVersions("mail/x"); len(got) != 3 {
		t.Fatalf("len(srv.SecretVersions(\"mail/x\")) = %d, want %d: %+v", len(got), 3, got)
	}
	n := 0
	for _, v := range srv.SecretVersions("mail/x") {
		for _, l := range v.Stages {
			if l == "AWSPENDING" {
				n++
			}
		}
	}
	if n != 1 {
		t.Fatalf("n = %v, want %v", n, 1)
	}
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

func TestValueIsJSONOfFields(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x, create: true}")
	data := sinks.Secret{"api_key": "k\"\n'", "key_id": "42", "created_at": "2026-11-23T03:00:00Z"}
	_, err := tg.Write(t.Context(), write(rotation1, data))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	val, ok := srv.SecretValue("mail/x", "AWSPENDING")
	if !ok {
		t.Fatalf("ok: got false, want true")
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(val), &got); err != nil {
		t.Fatalf("json.Unmarshal([]byte(val), &got): %v", err)
	}
	if !reflect.DeepEqual(map[string]string(data), got) {
		t.Fatalf("got = %+v, want %+v", got, map[string]string(data))
	}

	srv.PutSecretValue("mail/x", "not json")
	_, err = tg.Read(t.Context())
	if err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Fatalf("tg.Read: got error %v, want one containing %q", err, "not a JSON object")
	}
	if got := err.Error(); strings.Contains(got, "not json") {
		t.Fatalf("got %q, want it not to contain %q", got, "not json")
	}
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

func TestPromoteRacingItselfSucceeds(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("mail/x", `{"key":"old"}`, ours)
	old := srv.SecretStages("mail/x")["AWSCURRENT"]
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/x}")
	_, err := tg.Write(t.Context(), write(rotation1, sinks.Secret{"key": "ours"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	// Another Promote of the same version lands between our listing and
	// our update: AWS refuses ours, and the version is current anyway.
	srv.Before("UpdateSecretVersionStage", func() { srv.MoveStage("mail/x", "AWSCURRENT", rotation1) })
	if err := tg.Promote(t.Context(), write(rotation1, nil)); err != nil {
		t.Fatalf("tg.Promote(t.Context(), write(rotation1, nil)): %v", err)
	}
	if got, want := srv.SecretStages("mail/x"), map[string]string{"AWSCURRENT": rotation1, "AWSPREVIOUS": old}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.SecretStages(\"mail/x\") = %+v, want %+v", got, want)
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

// TestPreviousIsAWSPREVIOUS: after a promotion the previous value stays
// readable under AWSPREVIOUS, for keep-alive of a key in grace.
func TestPreviousIsAWSPREVIOUS(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: mail/h, create: true}")
	ctx := t.Context()
	prev, err := tg.Previous(ctx, 3)
	if err != nil {
		t.Fatalf("tg.Previous: %v", err)
	}
	if len(prev) != 0 {
		t.Fatalf("prev = %+v, want empty", prev)
	}
	for _, r := range []struct{ id, key string }{{rotation1, "first"}, {rotation2, "second"}} {
		_, err := tg.Write(ctx, write(r.id, sinks.Secret{"key": r.key}))
		if err != nil {
			t.Fatalf("tg.Write: %v", err)
		}
		if err := tg.Promote(ctx, write(r.id, nil)); err != nil {
			t.Fatalf("tg.Promote(ctx, write(r.id, nil)): %v", err)
		}
	}
	prev, err = tg.Previous(ctx, 3)
	if err != nil {
		t.Fatalf("tg.Previous: %v", err)
	}
	if want := []sinks.Secret{{"key": "first"}}; !reflect.DeepEqual(want, prev) {
		t.Fatalf("prev = %+v, want %+v", prev, want)
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
