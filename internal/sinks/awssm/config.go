package awssm

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rotator-dev/rotator/internal/config"
)

// Config is a `type: aws-secretsmanager` sink section.
//
//	sinks:
//	  aws:
//	    type: aws-secretsmanager
//	    region: eu-west-1        # else the SDK's (AWS_REGION, profile)
//	    endpoint: https://...    # optional: a compatible service or a test server
//	    profile: prod            # optional shared-config profile
//	    max_attempts: 3          # optional: SDK attempts per call, retries included
//
// Credentials come from the SDK's default chain: environment, shared config
// and profiles, web identity (IRSA), container and instance metadata.
type Config struct {
	Region      string `yaml:"region"`
	Endpoint    string `yaml:"endpoint"`
	Profile     string `yaml:"profile"`
	MaxAttempts int    `yaml:"max_attempts"`

	// Credentials replaces the default chain when set (tests, embedding);
	// it cannot be set from YAML.
	Credentials aws.CredentialsProvider `yaml:"-"`
}

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
}

// ParseConfig decodes and validates a sink section. It makes no network
// call.
func ParseConfig(sec config.Section) (Config, error) {
	var cfg Config
	if err := sec.Decode(&cfg, "type"); err != nil {
		return Config{}, err
	}
	if err := checkEndpoint(cfg.Endpoint); err != nil {
		return Config{}, sec.Field("endpoint", err)
	}
	if cfg.Region != "" && !regionRE.MatchString(cfg.Region) {
		return Config{}, sec.Errorf("region", "%q is not an AWS region name (such as eu-west-1)", cfg.Region)
	}
	if cfg.MaxAttempts < 0 || cfg.MaxAttempts > 10 {
		return Config{}, sec.Errorf("max_attempts", "must be between 1 and 10 (0 or unset: the SDK's default of 3)")
	}
	return cfg, nil
}

var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)

func checkEndpoint(endpoint string) error {
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", endpoint)
	}
	return nil
}

var secretNameRE = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)

func parseTarget(sec config.Section) (TargetConfig, error) {
	var tc TargetConfig
	if err := sec.Decode(&tc, "sink", "fields"); err != nil {
		return TargetConfig{}, err
	}
	isARN := strings.HasPrefix(tc.SecretID, "arn:")
	switch {
	case tc.SecretID == "":
		return TargetConfig{}, sec.Errorf("secret_id", "required: the secret's name or ARN")
	case isARN && !strings.Contains(tc.SecretID, ":secretsmanager:"):
		return TargetConfig{}, sec.Errorf("secret_id", "%q is not a Secrets Manager ARN", tc.SecretID)
	case !isARN && !secretNameRE.MatchString(tc.SecretID):
		return TargetConfig{}, sec.Errorf("secret_id", "%q is not a valid secret name (1-512 of letters, digits and /_+=.@-)", tc.SecretID)
	case tc.Create && isARN:
		return TargetConfig{}, sec.Errorf("create", "a secret can only be created by name, not by ARN")
	case tc.KMSKeyID != "" && !tc.Create:
		return TargetConfig{}, sec.Errorf("kms_key_id", "only applies with create: true (an existing secret keeps its own key)")
	}
	return tc, nil
}
