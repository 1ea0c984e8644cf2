// Package awsapi is what the AWS sinks (awssm for Secrets Manager, awsssm
// for Parameter Store) share about talking to AWS: the connection settings
// of their sink section and how they become an aws.Config (Config,
// ParseConfig, Load, Connect), the options every service client gets
// (ClientOptions, with the HTTP client of NewBodyCopyClient), the sink
// itself but for its service (Sink, NewSink: Type, Bind, and a Check that
// walks the bound Targets), and how a failed call is reported without the
// values it sent (CallError, ErrorCode). What each service does with its
// client stays in its sink.
package awsapi

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"

	"github.com/rotator-dev/rotator/internal/config"
)

// Config is the connection part of an AWS sink section, the same for
// every AWS sink type.
//
//	region: eu-west-1        # else the SDK's (AWS_REGION, profile)
//	endpoint: https://...    # optional: a compatible service or a test server
//	profile: prod            # optional shared-config profile
//	max_attempts: 3          # optional: SDK attempts per call, retries included
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
	// Logger, when set, is the SDK's logger from the start of Load, so
	// that what the loaded parts log (the instance metadata client's
	// "falling back to IMDSv1") goes through it too, not to stderr.
	Logger logging.Logger `yaml:"-"`
}

// ParseConfig decodes a sink section strictly (its `type` aside) and
// validates it; an error is a *config.FieldError naming the field. It
// makes no network call.
func ParseConfig(sec config.Section) (Config, error) {
	var cfg Config
	if err := sec.Decode(&cfg, "type"); err != nil {
		return Config{}, err
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, sec.Errorf("endpoint", "%q is not an absolute http(s) URL", cfg.Endpoint)
		}
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

// Load builds the aws.Config for cfg: the SDK's defaults (environment and
// shared config files) overridden by cfg's region, profile, attempts and
// credentials, with userAgent added to every request's User-Agent when not
// empty. It reads files but makes no network call; credentials are fetched
// on first use. A configuration without a region is an error.
//
// The endpoint is not applied here: each sink sets it on its service
// client's Options.BaseEndpoint, where it wins over the SDK's
// service-specific endpoint settings (AWS_ENDPOINT_URL_<SERVICE>).
func Load(cfg Config, userAgent string) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.MaxAttempts > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(cfg.MaxAttempts))
	}
	if cfg.Credentials != nil {
		opts = append(opts, awsconfig.WithCredentialsProvider(cfg.Credentials))
	}
	if cfg.Logger != nil {
		opts = append(opts, awsconfig.WithLogger(cfg.Logger))
	}
	if userAgent != "" {
		opts = append(opts, awsconfig.WithAPIOptions([]func(*middleware.Stack) error{awsmw.AddUserAgentKey(userAgent)}))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	if awsCfg.Region == "" {
		return aws.Config{}, errors.New("no region: set region, AWS_REGION, or a region in the AWS profile")
	}
	if cfg.Credentials == nil && awsCfg.Credentials != nil {
		awsCfg.Credentials = aws.NewCredentialsCache(namedChain{CredentialsProvider: awsCfg.Credentials, profile: cfg.Profile})
	}
	return awsCfg, nil
}
