package awsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rotator-dev/rotator/internal/sinks"
)

// Connect is the service-independent half of an AWS sink's New: the
// aws.Config of cfg (Load, with the sink's user agent), for the service's
// NewFromConfig, logging through deps.Logger (NewLogger, and each retry:
// loggedRetryer). The error names
// the sink: "aws-ssm sink ssm: ...".
func Connect(cfg Config, deps sinks.Deps, sinkType string) (aws.Config, error) {
	cfg.Logger = NewLogger(deps.Logger)
	awsCfg, err := Load(cfg, deps.UserAgent)
	if err != nil {
		return aws.Config{}, fmt.Errorf("%s sink %s: %w", sinkType, deps.Name, err)
	}
	if deps.Logger != nil {
		logRetries(&awsCfg, deps.Logger)
	}
	return awsCfg, nil
}

// httpDoer is the HTTPClient interface of every AWS service package
// (ssm.HTTPClient, secretsmanager.HTTPClient): the same method as
// aws.HTTPClient, under each package's own name.
type httpDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// ClientOptions sets, on a service client's Options, what every AWS sink
// sets there, given pointers to the Options' BaseEndpoint and HTTPClient:
//
//   - cfg's endpoint, when set. On Options it wins over the SDK's
//     service-specific endpoint settings (AWS_ENDPOINT_URL_<SERVICE>, a
//     profile's services section), which aws.Config.BaseEndpoint would not.
//   - the body-copy HTTP client (NewBodyCopyClient) around the client the
//     SDK resolved.
//
// Each sink calls it from the function it hands NewFromConfig:
//
//	ssm.NewFromConfig(awsCfg, func(o *ssm.Options) { awsapi.ClientOptions(cfg, &o.BaseEndpoint, &o.HTTPClient) })
func ClientOptions[H httpDoer](cfg Config, baseEndpoint **string, httpClient *H) {
	if cfg.Endpoint != "" {
		*baseEndpoint = aws.String(cfg.Endpoint)
	}
	// A bodyCopyClient has H's one method, so the assertion holds for
	// every service's HTTPClient interface.
	*httpClient = any(NewBodyCopyClient(*httpClient)).(H)
}

// Targets is the list of targets an AWS sink has bound, which its Check
// walks. It is safe for concurrent use; the zero value is empty.
type Targets[T any] struct {
	mu   sync.Mutex
	list []T
}

// Add records t and returns it.
func (ts *Targets[T]) Add(t T) T {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.list = append(ts.list, t)
	return t
}

// Check runs check on every target bound so far and joins the errors; each
// check's error names its target.
func (ts *Targets[T]) Check(ctx context.Context, check func(T, context.Context) error) error {
	ts.mu.Lock()
	list := append([]T(nil), ts.list...)
	ts.mu.Unlock()
	var errs []error
	for _, t := range list {
		if err := check(t, ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
