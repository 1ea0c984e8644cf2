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
	"context"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

// Type is the sink's `type`.
const Type = "aws-secretsmanager"

// Sink is a configured Secrets Manager client.
type Sink struct {
	log     *zap.Logger
	client  *secretsmanager.Client
	targets awsapi.Targets[*Target]
}

var (
	_ sinks.Sink          = (*Sink)(nil)
	_ sinks.Checker       = (*Sink)(nil)
	_ sinks.Promoter      = (*Target)(nil)
	_ sinks.PendingReader = (*Target)(nil)
	_ sinks.HistoryReader = (*Target)(nil)
)

// New builds the sink. It reads the AWS environment and shared config
// files but makes no network call; credentials are fetched on first use.
func New(cfg Config, deps sinks.Deps) (*Sink, error) {
	awsCfg, err := awsapi.Connect(cfg, deps, Type)
	if err != nil {
		return nil, err
	}
	client := secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) { awsapi.ClientOptions(cfg, &o.BaseEndpoint, &o.HTTPClient) })
	return &Sink{log: deps.Logger, client: client}, nil
}

// Type implements sinks.Sink.
func (s *Sink) Type() string { return Type }

// Bind decodes a key's target (secret_id, create, kms_key_id). It makes no
// network call.
func (s *Sink) Bind(target config.Section) (sinks.Target, error) {
	tc, err := parseTarget(target)
	if err != nil {
		return nil, err
	}
	t := &Target{sink: s, cfg: tc, yamlPath: target.Path}
	return s.targets.Add(t), nil
}

// Check verifies that every bound secret can be described: it exists (or
// create is set) and the credentials are allowed to see it. The error names
// each failing secret.
func (s *Sink) Check(ctx context.Context) error {
	return s.targets.Check(ctx, (*Target).check)
}
