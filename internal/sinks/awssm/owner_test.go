package awssm_test

import (
	"testing"

	"github.com/stretchr/testify/require"

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
	require.ErrorIs(t, err, sinks.ErrNotOwned)
	require.EqualError(t, err, "write prod/billing: the secret exists and carries no tag managed-by=rotator: not written by rotator, "+
		"so it is not overwritten; to let rotator take it over (and mark it as its own), set adopt: true on keys[0].sinks[0]")
	sinktest.AssertNoSecret(t, err.Error(), "theirs", "sk_live_ours")
	require.Len(t, srv.SecretVersions("prod/billing"), 1)
	require.Zero(t, srv.CallCount("PutSecretValue"))
	require.Zero(t, srv.CallCount("TagResource"))

	adopting := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: aws, secret_id: prod/billing, adopt: true}")
	_, err = adopting.Write(t.Context(), write(rotation1, sinks.Secret{"api_key": "sk_live_ours"}))
	require.NoError(t, err)
	info, _ := srv.Secret("prod/billing")
	require.Equal(t, []awstest.Tag{{Key: "team", Value: "billing"}, ours}, info.Tags)
	require.Equal(t, []string{"DescribeSecret", "TagResource", "PutSecretValue", "DescribeSecret"}, srv.Calls()[1:])

	// Tagged now: the target without adopt writes it.
	_, err = tg.Write(t.Context(), write(rotation2, sinks.Secret{"api_key": "sk_live_next"}))
	require.NoError(t, err)
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
	require.ErrorIs(t, err, sinks.ErrNotOwned)
	require.Len(t, srv.SecretVersions("prod/new"), 1)
}
