// Package awssm is the `aws-secretsmanager` sink: it stores a key's
// credential as the JSON of its field map in an AWS Secrets Manager secret,
// following AWS's own rotation model.
//
// Write stages the value: PutSecretValue with ClientRequestToken = the
// rotation id (so a retry is idempotent and the version id is the rotation
// id) and the label AWSPENDING. ReadPending reads that version back.
// Promote moves AWSCURRENT to it with UpdateSecretVersionStage (AWS moves
// AWSPREVIOUS to the old current version) and then removes AWSPENDING, so
// no rotation is left "in progress". Read returns AWSCURRENT.
//
// Ownership: a secret is rotator's when it carries the tag
// managed-by=rotator, which CreateSecret sets. Write refuses an existing
// secret without it (sinks.ErrNotOwned) unless the target sets adopt:
// true, in which case it tags the secret (TagResource) before writing.
//
// IAM actions used: secretsmanager:DescribeSecret, GetSecretValue,
// PutSecretValue, UpdateSecretVersionStage, ListSecretVersionIds, and
// CreateSecret (create: true) and TagResource (create: true, adopt: true),
// both only with the tag managed-by=rotator (plus kms:GenerateDataKey and
// kms:Decrypt on a customer-managed key); deploy/policies/aws-secretsmanager.json is the
// least-privilege policy (a test checks it covers every call the sink
// makes).
package awssm

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

// Type is the sink's `type`.
const Type = "aws-secretsmanager"

// Sink is a configured Secrets Manager client: the AWS sinks' skeleton
// over a secretsmanager.Client and this package's Targets.
type Sink = awsapi.Sink[*secretsmanager.Client, *Target]

var (
	_ sinks.Promoter      = (*Target)(nil)
	_ sinks.PendingReader = (*Target)(nil)
	_ sinks.HistoryReader = (*Target)(nil)
)

// service is what this sink has of its own; awsapi.Sink is the rest.
var service = awsapi.Service[*secretsmanager.Client, *Target]{Type: Type, Bind: bind, Check: (*Target).check}

// New builds the sink. It reads the AWS environment and shared config
// files but makes no network call; credentials are fetched on first use.
func New(cfg Config, deps sinks.Deps) (*Sink, error) {
	return awsapi.NewSink(cfg, deps, service, func(awsCfg aws.Config) *secretsmanager.Client {
		return secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) { awsapi.ClientOptions(cfg, &o.BaseEndpoint, &o.HTTPClient) })
	})
}
