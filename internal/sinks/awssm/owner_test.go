package awssm_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awstest"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
)

// TestForeignSecretIsNotTakenOver: a secret without the tag
// managed-by=rotator (another team's, or one made by Terraform) is not
// written; the error says how to adopt it. With adopt: true the write tags
// it first (TagResource), then stages the value.
func TestForeignSecretIsNotTakenOver(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.CreateSecret("prod/billing", `{"password":"theirs"}`, awstest.Tag{Key: "team", Value: "billing"})
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: prod/billing}")

	_, err := tg.Write(t.Context(), write(rotation1, sinks.Secret{"api_key": "sk_live_ours"}))
	if !errors.Is(err, sinks.ErrNotOwned) {
		t.Fatalf("tg.Write: got error %v, want one that is %v", err, sinks.ErrNotOwned)
	}
	if err == nil || err.Error() != "write prod/billing: the secret exists and carries no tag managed-by=rotator: not written by rotator, "+
		"so it is not overwritten; to let rotator take it over (and mark it as its own), set adopt: true on keys[0].sinks[0]" {
		t.Fatalf("got error %v, want %q", err, "write prod/billing: the secret exists and carries no tag managed-by=rotator: not written by rotator, "+
			"so it is not overwritten; to let rotator take it over (and mark it as its own), set adopt: true on keys[0].sinks[0]")
	}
	sinktest.AssertNoSecret(t, err.Error(), "theirs", "sk_live_ours")
	if got := srv.SecretVersions("prod/billing"); len(got) != 1 {
		t.Fatalf("len(srv.SecretVersions(\"prod/billing\")) = %d, want %d: %+v", len(got), 1, got)
	}
	if got := srv.CallCount("PutSecretValue"); got != 0 {
		t.Fatalf("srv.CallCount(\"PutSecretValue\") = %v, want zero", got)
	}
	if got := srv.CallCount("TagResource"); got != 0 {
		t.Fatalf("srv.CallCount(\"TagResource\") = %v, want zero", got)
	}

	adopting := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: prod/billing, adopt: true}")
	_, err = adopting.Write(t.Context(), write(rotation1, sinks.Secret{"api_key": "sk_live_ours"}))
	if err != nil {
		t.Fatalf("adopting.Write: %v", err)
	}
	info, _ := srv.Secret("prod/billing")
	if want := []awstest.Tag{{Key: "team", Value: "billing"}, ours}; !reflect.DeepEqual(want, info.Tags) {
		t.Fatalf("info.Tags = %+v, want %+v", info.Tags, want)
	}
	if got, want := srv.Calls()[1:], []string{"DescribeSecret", "TagResource", "PutSecretValue", "DescribeSecret"}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.Calls()[1:] = %+v, want %+v", got, want)
	}

	// Tagged now: the target without adopt writes it.
	_, err = tg.Write(t.Context(), write(rotation2, sinks.Secret{"api_key": "sk_live_next"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
}

// TestSecretCreatedByAnotherMeanwhileIsForeign: with create: true, a
// secret that someone else creates between DescribeSecret and
// CreateSecret is not taken over.
func TestSecretCreatedByAnotherMeanwhileIsForeign(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.Before("CreateSecret", func() { srv.CreateSecret("prod/new", `{"password":"theirs"}`) })
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: prod/new, create: true}")
	_, err := tg.Write(t.Context(), write(rotation1, sinks.Secret{"api_key": "sk_live_ours"}))
	if !errors.Is(err, sinks.ErrNotOwned) {
		t.Fatalf("tg.Write: got error %v, want one that is %v", err, sinks.ErrNotOwned)
	}
	if got := srv.SecretVersions("prod/new"); len(got) != 1 {
		t.Fatalf("len(srv.SecretVersions(\"prod/new\")) = %d, want %d: %+v", len(got), 1, got)
	}
}
