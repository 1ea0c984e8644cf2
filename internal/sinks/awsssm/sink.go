// Package awsssm is the `aws-ssm` sink: it stores a key's credential in AWS
// Systems Manager Parameter Store as SecureString parameters, either one
// parameter holding the JSON of the field map or one parameter per field.
//
// Write puts each parameter with Overwrite and type SecureString (with the
// configured KMS key, else aws/ssm), skipping a parameter whose decrypted
// value is already the one to write, so a retry creates no new version.
// Read reads back with decryption. Parameter Store has no compare-and-set:
// a concurrent writer's value is overwritten (the last write wins), which
// is why the contract suite's concurrent-modification case does not apply.
// A per-field write is not atomic across parameters: after a failure some
// parameters may hold the new value; the engine's retry completes it.
//
// Ownership: a parameter is rotator's when it carries the tag
// managed-by=rotator, which Write sets when it creates one (PutParameter
// with Tags). Before replacing existing parameters Write lists their tags
// and refuses (sinks.ErrNotOwned), writing none, if one lacks it, unless
// the target sets adopt: true, in which case it tags them first.
//
// IAM actions used: ssm:GetParameters, ssm:PutParameter,
// ssm:ListTagsForResource and ssm:AddTagsToResource (also needed to create
// a parameter with tags) on the parameters, and kms:Encrypt / kms:Decrypt
// on a customer-managed key;
// deploy/policies/aws-ssm.json is the least-privilege policy (a test checks it covers
// every call the sink makes).
package awsssm

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

// Type is the sink's `type`.
const Type = "aws-ssm"

// Sink is a configured Parameter Store client: the AWS sinks' skeleton
// over an ssm.Client and this package's Targets.
type Sink = awsapi.Sink[*ssm.Client, *Target]

// service is what this sink has of its own; awsapi.Sink is the rest.
var service = awsapi.Service[*ssm.Client, *Target]{Type: Type, Bind: bind, Check: (*Target).check}

// New builds the sink. It reads the AWS environment and shared config
// files but makes no network call; credentials are fetched on first use.
func New(cfg Config, deps sinks.Deps) (*Sink, error) {
	return awsapi.NewSink(cfg, deps, service, func(awsCfg aws.Config) *ssm.Client {
		return ssm.NewFromConfig(awsCfg, func(o *ssm.Options) { awsapi.ClientOptions(cfg, &o.BaseEndpoint, &o.HTTPClient) })
	})
}

// check reads the target's parameters (with decryption): the credentials
// must be allowed to, and an existing parameter must be a SecureString; a
// parameter that does not exist yet is fine, the first write creates it.
func (t *Target) check(ctx context.Context) error {
	found, _, err := t.fetch(ctx, t.names())
	if err != nil {
		return fmt.Errorf("check %w", err)
	}
	var errs []error
	for _, name := range t.names() {
		if p, ok := found[name]; ok && p.Type != types.ParameterTypeSecureString {
			errs = append(errs, fmt.Errorf("check %s: parameter is a %s; Parameter Store cannot change it to the SecureString this sink writes (delete it or choose another name)", name, p.Type))
		}
	}
	return errors.Join(errs...)
}
