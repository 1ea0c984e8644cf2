package awssm_test

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awstest"
)

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
