package awsapi

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/logging"
	"go.uber.org/zap"
)

// zapLogger is the AWS SDK's logger writing through zap: the SDK's own
// default writes plain "SDK <time> WARN ..." lines to stderr, into the
// middle of rotator's JSON log stream. Its warnings are logged at warn,
// everything else at debug, as "aws sdk" with the SDK's text in detail.
// (Request and response logging, ClientLogMode, stays off: bodies carry
// secrets.)
type zapLogger struct{ log *zap.Logger }

// NewLogger returns the SDK logger for aws.Config.Logger; a nil log drops
// everything.
func NewLogger(log *zap.Logger) logging.Logger {
	if log == nil {
		return logging.Nop{}
	}
	return zapLogger{log: log.WithOptions(zap.AddCallerSkip(1))}
}

func (z zapLogger) Logf(c logging.Classification, format string, v ...any) {
	detail := fmt.Sprintf(format, v...)
	if c == logging.Warn {
		z.log.Warn("aws sdk", zap.String("detail", detail))
		return
	}
	z.log.Debug("aws sdk", zap.String("detail", detail))
}

// namedChain wraps the SDK's default credential chain so that its failure
// says which sources were tried, in the SDK's order, and which of them
// the environment configures: the SDK's own error names only the last
// one (typically "no EC2 IMDS role found").
type namedChain struct {
	aws.CredentialsProvider
	profile string
}

// Retrieve implements aws.CredentialsProvider.
func (c namedChain) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := c.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return creds, fmt.Errorf("get AWS credentials (tried %s): %w", triedSources(c.profile), err)
	}
	return creds, nil
}

// triedSources describes the default chain for the present environment.
func triedSources(profile string) string {
	set := func(names ...string) string {
		for _, n := range names {
			if os.Getenv(n) != "" {
				return n + " set"
			}
		}
		return names[0] + " not set"
	}
	if profile == "" {
		profile = os.Getenv("AWS_PROFILE")
	}
	if profile == "" {
		profile = "default"
	}
	imds := "EC2 instance metadata (IMDS)"
	if strings.EqualFold(os.Getenv("AWS_EC2_METADATA_DISABLED"), "true") {
		imds += ", disabled by AWS_EC2_METADATA_DISABLED"
	}
	return strings.Join([]string{
		"environment (" + set("AWS_ACCESS_KEY_ID") + ")",
		fmt.Sprintf("shared profile %q (%s, %s)", profile, orDefault("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"), orDefault("AWS_CONFIG_FILE", "~/.aws/config")),
		"web identity (" + set("AWS_WEB_IDENTITY_TOKEN_FILE") + ")",
		"container endpoint (" + set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI") + ")",
		imds,
	}, ", ")
}

func orDefault(env, def string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}
