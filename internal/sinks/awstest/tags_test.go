package awstest_test

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

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
	if err != nil {
		t.Fatalf("sm.CreateSecret: %v", err)
	}
	_, err = sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String("s"), Tags: []smtypes.Tag{tag("managed-by", "rotator"), tag("team", "billing")}})
	if err != nil {
		t.Fatalf("sm.TagResource: %v", err)
	}
	out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
	if err != nil {
		t.Fatalf("sm.DescribeSecret: %v", err)
	}
	if want := []smtypes.Tag{tag("team", "billing"), tag("managed-by", "rotator")}; !reflect.DeepEqual(want, out.Tags) {
		t.Fatalf("out.Tags = %+v, want %+v", out.Tags, want)
	}
	info, _ := srv.Secret("s")
	if want := []awstest.Tag{{Key: "team", Value: "billing"}, {Key: "managed-by", Value: "rotator"}}; !reflect.DeepEqual(want, info.Tags) {
		t.Fatalf("info.Tags = %+v, want %+v", info.Tags, want)
	}

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
	if err != nil {
		t.Fatalf("ps.PutParameter: %v", err)
	}
	got, err := list("/p")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if want := []ssmtypes.Tag{tag("managed-by", "rotator")}; !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}

	_, err = ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/p"), Value: aws.String("v2"), Overwrite: aws.Bool(true),
		Tags: []ssmtypes.Tag{tag("a", "b")}})
	requireCode(t, err, "ValidationException")
	_, err = ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/p"), Value: aws.String("v2"), Overwrite: aws.Bool(true)})
	if err != nil {
		t.Fatalf("ps.PutParameter: %v", err)
	}
	got, err = list("/p")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if want := []ssmtypes.Tag{tag("managed-by", "rotator")}; !reflect.DeepEqual(want, got) {
		t.Fatalf("tags belong to the parameter, not a version: got %+v, want %+v", got, want)
	}

	srv.SetParameter("/q", "SecureString", "theirs")
	got, err = list("/q")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("got = %+v, want empty", got)
	}
	_, err = ps.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String("/q"),
		Tags: []ssmtypes.Tag{tag("managed-by", "rotator")}})
	if err != nil {
		t.Fatalf("ps.AddTagsToResource: %v", err)
	}
	if got, want := srv.ParameterTags("/q"), []awstest.Tag{{Key: "managed-by", Value: "rotator"}}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.ParameterTags(\"/q\") = %+v, want %+v", got, want)
	}

	_, err = list("/absent")
	requireCode(t, err, "InvalidResourceId")
	_, err = ps.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String("/absent"),
		Tags: []ssmtypes.Tag{tag("a", "b")}})
	requireCode(t, err, "InvalidResourceId")
	_, err = ps.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingDocument, ResourceId: aws.String("/q"),
		Tags: []ssmtypes.Tag{tag("a", "b")}})
	requireCode(t, err, "InvalidResourceType")
}
