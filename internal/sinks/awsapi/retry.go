package awsapi

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.uber.org/zap"
)

// loggedRetryer is the SDK's retryer that logs each retry at info as
// attempt n of max_attempts, with the status and AWS error code of the
// failed attempt (never AWS's message, which might quote a value sent).
// The SDK's own error after the last attempt ("exceeded maximum number of
// attempts, 3") reaches the caller, which logs it.
type loggedRetryer struct {
	aws.Retryer
	log *zap.Logger
	// max is the attempts the client makes: max_attempts (or
	// AWS_MAX_ATTEMPTS), which the service client applies above this
	// retryer, else the retryer's own.
	max int
}

// logRetries wraps awsCfg's retryer (the SDK's standard one when none is
// set) with loggedRetryer.
func logRetries(awsCfg *aws.Config, log *zap.Logger) {
	next := awsCfg.Retryer
	if next == nil {
		next = func() aws.Retryer { return retry.NewStandard() }
	}
	max := awsCfg.RetryMaxAttempts
	awsCfg.Retryer = func() aws.Retryer {
		r := next()
		n := max
		if n <= 0 {
			n = r.MaxAttempts()
		}
		return loggedRetryer{Retryer: r, log: log, max: n}
	}
}

// RetryDelay implements aws.Retryer: the SDK calls it once an attempt
// failed and another follows.
func (r loggedRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	wait, derr := r.Retryer.RetryDelay(attempt, err)
	if derr != nil {
		return wait, derr
	}
	fields := []zap.Field{zap.Int("attempt", attempt), zap.Int("max_attempts", r.max), zap.Duration("retry_in", wait)}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		fields = append(fields, zap.Int("status", re.HTTPStatusCode()))
	} else {
		fields = append(fields, zap.String("reason", "no response"))
	}
	if code := ErrorCode(err); code != "" {
		fields = append(fields, zap.String("aws_error_code", code))
	}
	r.log.Info("aws request failed; retrying", fields...)
	return wait, nil
}

// GetAttemptToken implements aws.RetryerV2 when the wrapped retryer does.
func (r loggedRetryer) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	if v2, ok := r.Retryer.(aws.RetryerV2); ok {
		return v2.GetAttemptToken(ctx)
	}
	return r.GetInitialToken(), nil
}
