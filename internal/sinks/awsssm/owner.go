package awsssm

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/sinks"
)

// The tag that makes a parameter rotator's (see sinks.ErrNotOwned).
const ownerTagKey, ownerTagValue = "managed-by", "rotator"

func ownerTag() types.Tag {
	return types.Tag{Key: aws.String(ownerTagKey), Value: aws.String(ownerTagValue)}
}

// claim checks, before a write, that every existing parameter of the
// target carries the tag managed-by=rotator. Without adopt, one that does
// not makes the write fail before anything is written; with adopt, the
// untagged ones are tagged.
func (t *Target) claim(ctx context.Context, existing map[string]types.Parameter) error {
	var foreign []string
	for _, name := range t.names() {
		if _, ok := existing[name]; !ok {
			continue
		}
		out, err := t.sink.Client.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{
			ResourceType: types.ResourceTypeForTaggingParameter,
			ResourceId:   aws.String(name),
		})
		if err != nil {
			return t.fail("list tags", name, err, nil)
		}
		owned := false
		for _, tag := range out.TagList {
			owned = owned || (aws.ToString(tag.Key) == ownerTagKey && aws.ToString(tag.Value) == ownerTagValue)
		}
		if !owned {
			foreign = append(foreign, name)
		}
	}
	if len(foreign) == 0 {
		return nil
	}
	if !t.cfg.Adopt {
		what := "parameter " + strings.Join(foreign, ", ")
		return fmt.Errorf("write %s: %w", t.describe(), sinks.NotOwned(what, "tag "+ownerTagKey+"="+ownerTagValue, t.yamlPath))
	}
	for _, name := range foreign {
		_, err := t.sink.Client.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{
			ResourceType: types.ResourceTypeForTaggingParameter,
			ResourceId:   aws.String(name),
			Tags:         []types.Tag{ownerTag()},
		})
		if err != nil {
			return t.fail("tag parameter", name, err, nil)
		}
		t.log().Warn("adopted a parameter rotator did not create: tagged "+ownerTagKey+"="+ownerTagValue, zap.String("name", name))
	}
	return nil
}
