package awssm_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awstest"
)

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
