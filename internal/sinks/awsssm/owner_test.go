package awsssm_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awstest"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
)

// TestNewParametersAreTagged: a parameter Write creates carries the tag
// managed-by=rotator (PutParameter's Tags), and keeps it on overwrite.
func TestNewParametersAreTagged(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: ssm, parameter: /prod/mail/creds}")
	for _, v := range []string{"k1", "k2"} {
		_, err := tg.Write(t.Context(), write(sinks.Secret{"api_key": v}))
		if err != nil {
			t.Fatalf("tg.Write: %v", err)
		}
		if got, want := srv.ParameterTags("/prod/mail/creds"), []awstest.Tag{ours}; !reflect.DeepEqual(want, got) {
			t.Fatalf("srv.ParameterTags(\"/prod/mail/creds\") = %+v, want %+v", got, want)
		}
	}
}

// TestForeignParametersAreNotTakenOver: with one parameter per field, a
// single existing parameter without the tag makes the write fail before
// any parameter is written; the error names it and says how to adopt.
// With adopt: true it is tagged, then written.
func TestForeignParametersAreNotTakenOver(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.SetParameter("/prod/billing/db-password", "SecureString", "theirs")
	src := "{sink: ssm, parameters: {api_key: /prod/mail/key, key_id: /prod/billing/db-password}}"
	tg := bind(t, newSink(t, srv, sinks.Deps{}), src)
	w := write(sinks.Secret{"api_key": "sk_live_ours", "key_id": "k1"})

	_, err := tg.Write(t.Context(), w)
	if !errors.Is(err, sinks.ErrNotOwned) {
		t.Fatalf("tg.Write: got error %v, want one that is %v", err, sinks.ErrNotOwned)
	}
	if err == nil || err.Error() != "write /prod/billing/db-password,/prod/mail/key: parameter /prod/billing/db-password exists and carries no tag managed-by=rotator: "+
		"not written by rotator, so it is not overwritten; to let rotator take it over (and mark it as its own), set adopt: true on keys[0].sinks[0]" {
		t.Fatalf("got error %v, want %q", err, "write /prod/billing/db-password,/prod/mail/key: parameter /prod/billing/db-password exists and carries no tag managed-by=rotator: "+
			"not written by rotator, so it is not overwritten; to let rotator take it over (and mark it as its own), set adopt: true on keys[0].sinks[0]")
	}
	sinktest.AssertNoSecret(t, err.Error(), "theirs", "sk_live_ours")
	_, created := srv.Parameter("/prod/mail/key")
	if created {
		t.Fatalf("a parameter was written before the ownership check: got true, want false")
	}
	p, _ := srv.Parameter("/prod/billing/db-password")
	if p.Value != "theirs" {
		t.Fatalf("p.Value = %q, want %q", p.Value, "theirs")
	}

	adopting := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: ssm, adopt: true, parameters: {api_key: /prod/mail/key, key_id: /prod/billing/db-password}}")
	_, err = adopting.Write(t.Context(), w)
	if err != nil {
		t.Fatalf("adopting.Write: %v", err)
	}
	if got, want := srv.ParameterTags("/prod/billing/db-password"), []awstest.Tag{ours}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.ParameterTags(\"/prod/billing/db-password\") = %+v, want %+v", got, want)
	}
	p, _ = srv.Parameter("/prod/billing/db-password")
	if p.Value != "k1" {
		t.Fatalf("p.Value = %q, want %q", p.Value, "k1")
	}

	_, err = tg.Write(t.Context(), write(sinks.Secret{"api_key": "sk_live_next", "key_id": "k2"}))
	if err != nil {
		t.Fatalf("adopted: the target without adopt writes it now: %v", err)
	}
}

// TestParameterCreatedByAnotherMeanwhileIsForeign: a parameter that
// someone else creates between GetParameters and PutParameter is not
// overwritten.
func TestParameterCreatedByAnotherMeanwhileIsForeign(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.Before("PutParameter", func() { srv.SetParameter("/prod/new", "SecureString", "theirs") })
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: ssm, parameter: /prod/new}")
	_, err := tg.Write(t.Context(), write(sinks.Secret{"api_key": "sk_live_ours"}))
	if !errors.Is(err, sinks.ErrNotOwned) {
		t.Fatalf("tg.Write: got error %v, want one that is %v", err, sinks.ErrNotOwned)
	}
	p, _ := srv.Parameter("/prod/new")
	if p.Value != "theirs" {
		t.Fatalf("p.Value = %q, want %q", p.Value, "theirs")
	}
}
