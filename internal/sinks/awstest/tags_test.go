package awstest_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/require"

	"github.com/rotator-dev/rotator/internal/sinks/awstest"
)

// TestSecretTags: tags through the SDK's own shapes: CreateSecret's Tags,
// TagResource (adds, replaces a key's value), DescribeSecret's Tags.
func TestSecretTags(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	sm, _ := clients(srv)
	ctx := t.Context()
	tag := func(k, v string) smtypes.Tag { return smtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }

	_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), Tags: []smtypes.Tag{tag("team", "mail")}})
	require.NoError(t, err)
	_, err = sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String("s"), Tags: []smtypes.Tag{tag("managed-by", "rotator"), tag("team", "billing")}})
	require.NoError(t, err)
	out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
	require.NoError(t, err)
	require.Equal(t, []smtypes.Tag{tag("team", "billing"), tag("managed-by", "rotator")}, out.Tags)
	info, _ := srv.Secret("s")
	require.Equal(t, []awstest.Tag{{Key: "team", Value: "billing"}, {Key: "managed-by", Value: "rotator"}}, info.Tags)

	_, err = sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String("absent"), Tags: []smtypes.Tag{tag("a", "b")}})
	requireCode(t, err, "ResourceNotFoundException")
	_, err = sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String("s"), Tags: []smtypes.Tag{tag("aws:x", "b")}})
	requireCode(t, err, "ValidationException")
}

// TestParameterTags: PutParameter's Tags on creation only (never with
// Overwrite), AddTagsToResource and ListTagsForResource by name, and
// InvalidResourceId for a parameter that does not exist.
func TestParameterTags(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	_, ps := clients(srv)
	ctx := t.Context()
	tag := func(k, v string) ssmtypes.Tag { return ssmtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	list := func(name string) ([]ssmtypes.Tag, error) {
		out, err := ps.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(name)})
		if err != nil {
			return nil, err
		}
		return out.TagList, nil
	}

	_, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/p"), Value: aws.String("v"), Type: ssmtypes.ParameterTypeSecureString,
		Tags: []ssmtypes.Tag{tag("managed-by", "rotator")}})
	require.NoError(t, err)
	got, err := list("/p")
	require.NoError(t, err)
	require.Equal(t, []ssmtypes.Tag{tag("managed-by", "rotator")}, got)

	_, err = ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/p"), Value: aws.String("v2"), Overwrite: aws.Bool(true),
		Tags: []ssmtypes.Tag{tag("a", "b")}})
	requireCode(t, err, "ValidationException")
	_, err = ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/p"), Value: aws.String("v2"), Overwrite: aws.Bool(true)})
	require.NoError(t, err)
	got, err = list("/p")
	require.NoError(t, err)
	require.Equal(t, []ssmtypes.Tag{tag("managed-by", "rotator")}, got, "tags belong to the parameter, not a version")

	srv.SetParameter("/q", "SecureString", "theirs")
	got, err = list("/q")
	require.NoError(t, err)
	require.Empty(t, got)
	_, err = ps.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String("/q"),
		Tags: []ssmtypes.Tag{tag("managed-by", "rotator")}})
	require.NoError(t, err)
	require.Equal(t, []awstest.Tag{{Key: "managed-by", Value: "rotator"}}, srv.ParameterTags("/q"))

	_, err = list("/absent")
	requireCode(t, err, "InvalidResourceId")
	_, err = ps.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String("/absent"),
		Tags: []ssmtypes.Tag{tag("a", "b")}})
	requireCode(t, err, "InvalidResourceId")
	_, err = ps.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingDocument, ResourceId: aws.String("/q"),
		Tags: []ssmtypes.Tag{tag("a", "b")}})
	requireCode(t, err, "InvalidResourceType")
}
