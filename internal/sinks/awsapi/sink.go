package awsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
)

// Sink is the skeleton every AWS sink shares: its logger and service
// client, and the targets it has bound, with the sinks.Sink and
// sinks.Checker methods. Each sink's package names its instance and builds
// it with NewSink from what it has of its own:
//
//	type Sink = awsapi.Sink[*ssm.Client, *Target]
//
//	var service = awsapi.Service[*ssm.Client, *Target]{Type: Type, Bind: bind, Check: (*Target).check}
type Sink[C any, T sinks.Target] struct {
	// Log is the sink's logger (sinks.Deps.Logger).
	Log *zap.Logger
	// Client is the service client.
	Client C

	svc     Service[C, T]
	targets Targets[T]
}

var (
	_ sinks.Sink    = (*Sink[any, sinks.Target])(nil)
	_ sinks.Checker = (*Sink[any, sinks.Target])(nil)
)

// Service is what an AWS sink has of its own, its client aside.
type Service[C any, T sinks.Target] struct {
	// Type is the sink's `type`.
	Type string
	// Bind decodes a key's target section into a target of s. It makes
	// no network call; an error is a *config.FieldError naming the field.
	Bind func(s *Sink[C, T], target config.Section) (T, error)
	// Check checks one bound target for Sink.Check; its error names the
	// target.
	Check func(T, context.Context) error
}

// NewSink builds the sink of svc, with the service client that client
// builds from the aws.Config of Connect: the service's NewFromConfig with
// ClientOptions,
//
//	func(awsCfg aws.Config) *ssm.Client {
//		return ssm.NewFromConfig(awsCfg, func(o *ssm.Options) { awsapi.ClientOptions(cfg, &o.BaseEndpoint, &o.HTTPClient) })
//	}
//
// It reads the AWS environment and shared config files but makes no
// network call; credentials are fetched on first use.
func NewSink[C any, T sinks.Target](cfg Config, deps sinks.Deps, svc Service[C, T], client func(aws.Config) C) (*Sink[C, T], error) {
	awsCfg, err := Connect(cfg, deps, svc.Type)
	if err != nil {
		return nil, err
	}
	return &Sink[C, T]{Log: deps.Logger, Client: client(awsCfg), svc: svc}, nil
}

// Type implements sinks.Sink: Service.Type.
func (s *Sink[C, T]) Type() string { return s.svc.Type }

// Bind implements sinks.Sink: the target of Service.Bind, recorded for
// Check.
func (s *Sink[C, T]) Bind(target config.Section) (sinks.Target, error) {
	t, err := s.svc.Bind(s, target)
	if err != nil {
		return nil, err
	}
	return s.targets.Add(t), nil
}

// Check implements sinks.Checker: Service.Check on every target bound so
// far. The error names each failing target.
func (s *Sink[C, T]) Check(ctx context.Context) error {
	return s.targets.Check(ctx, s.svc.Check)
}

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
