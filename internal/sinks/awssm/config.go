package awssm

import (
	"regexp"
	"strings"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

// Config is a `type: aws-secretsmanager` sink section: the connection
// settings every AWS sink shares, documented with their YAML on
// awsapi.Config.
type Config = awsapi.Config

// TargetConfig is a key's target on this sink.
//
//	sinks:
//	  - {sink: aws, secret_id: prod/mail/smtpd, create: true, kms_key_id: alias/rotator}
type TargetConfig struct {
	// SecretID is the secret's name or ARN.
	SecretID string `yaml:"secret_id"`
	// Create creates the secret when it does not exist (by name only), with
	// KMSKeyID and the tag managed-by=rotator.
	Create   bool   `yaml:"create"`
	KMSKeyID string `yaml:"kms_key_id"`
	// Adopt lets a write go to an existing secret without the tag
	// managed-by=rotator (one rotator did not create): the write tags it
	// first, and it is rotator's from then on.
	Adopt bool `yaml:"adopt"`
}

// ParseConfig decodes and validates a sink section. It makes no network
// call.
func ParseConfig(sec config.Section) (Config, error) { return awsapi.ParseConfig(sec) }

// secretNameRE checks a secret name's characters; its length (1-512) is
// checked apart: a counted repetition of 512 would compile to 512
// instructions at every start of the binary (docs/performance.md).
var secretNameRE = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)

func validSecretName(s string) bool { return len(s) <= 512 && secretNameRE.MatchString(s) }

// bind decodes a key's target (secret_id, create, kms_key_id) into a
// Target of s. It makes no network call.
func bind(s *Sink, sec config.Section) (*Target, error) {
	var tc TargetConfig
	if err := sinks.DecodeTarget(sec, &tc); err != nil {
		return nil, err
	}
	isARN := strings.HasPrefix(tc.SecretID, "arn:")
	switch {
	case tc.SecretID == "":
		return nil, sec.Errorf("secret_id", "required: the secret's name or ARN")
	case isARN && !strings.Contains(tc.SecretID, ":secretsmanager:"):
		return nil, sec.Errorf("secret_id", "%q is not a Secrets Manager ARN", tc.SecretID)
	case !isARN && !validSecretName(tc.SecretID):
		return nil, sec.Errorf("secret_id", "%q is not a valid secret name (1-512 of letters, digits and /_+=.@-)", tc.SecretID)
	case tc.Create && isARN:
		return nil, sec.Errorf("create", "a secret can only be created by name, not by ARN")
	case tc.KMSKeyID != "" && !tc.Create:
		return nil, sec.Errorf("kms_key_id", "only applies with create: true (an existing secret keeps its own key)")
	}
	return &Target{sink: s, cfg: tc, yamlPath: sec.Path}, nil
}
