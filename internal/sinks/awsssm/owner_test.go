package awsssm_test

import (
	"testing"

	"github.com/stretchr/testify/require"

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
		require.NoError(t, err)
		require.Equal(t, []awstest.Tag{ours}, srv.ParameterTags("/prod/mail/creds"))
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
	require.ErrorIs(t, err, sinks.ErrNotOwned)
	require.EqualError(t, err, "write /prod/billing/db-password,/prod/mail/key: parameter /prod/billing/db-password exists and carries no tag managed-by=rotator: "+
		"not written by rotator, so it is not overwritten; to let rotator take it over (and mark it as its own), set adopt: true on keys[0].sinks[0]")
	sinktest.AssertNoSecret(t, err.Error(), "theirs", "sk_live_ours")
	_, created := srv.Parameter("/prod/mail/key")
	require.False(t, created, "a parameter was written before the ownership check")
	p, _ := srv.Parameter("/prod/billing/db-password")
	require.Equal(t, "theirs", p.Value)

	adopting := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: ssm, adopt: true, parameters: {api_key: /prod/mail/key, key_id: /prod/billing/db-password}}")
	_, err = adopting.Write(t.Context(), w)
	require.NoError(t, err)
	require.Equal(t, []awstest.Tag{ours}, srv.ParameterTags("/prod/billing/db-password"))
	p, _ = srv.Parameter("/prod/billing/db-password")
	require.Equal(t, "k1", p.Value)

	_, err = tg.Write(t.Context(), write(sinks.Secret{"api_key": "sk_live_next", "key_id": "k2"}))
	require.NoError(t, err, "adopted: the target without adopt writes it now")
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
	require.ErrorIs(t, err, sinks.ErrNotOwned)
	p, _ := srv.Parameter("/prod/new")
	require.Equal(t, "theirs", p.Value)
}
