// Package awstest is an in-process stand-in for AWS Secrets Manager and SSM
// Parameter Store, for tests. It speaks the AWS JSON 1.1 protocol (POST /,
// X-Amz-Target, application/x-amz-json-1.1) for exactly the operations the
// rotator's sinks use:
//
//	secretsmanager.CreateSecret, DescribeSecret, GetSecretValue,
//	PutSecretValue, UpdateSecretVersionStage, ListSecretVersionIds,
//	TagResource
//	AmazonSSM.PutParameter, GetParameter, GetParameters,
//	AddTagsToResource, ListTagsForResource
//
// It is as strict as the documented service: every request's SigV4
// signature is recomputed with the SDK's own signer from the known test
// credentials and rejected with AWS's error shape when it does not match;
// secret versions and staging labels follow AWS's rules (a label is on at
// most one version, moving AWSCURRENT moves AWSPREVIOUS, the first version
// always gets AWSCURRENT, ClientRequestToken is the version id and is
// idempotent only for the same value); parameters keep numbered versions
// and SecureString values are returned encrypted unless WithDecryption.
// Errors use AWS's codes and HTTP statuses (ResourceNotFoundException,
// ParameterNotFound, ValidationException, ThrottlingException, ...).
//
// Fault injection: FailNext makes the next calls of an operation fail with
// a given error code, Down makes the server drop every connection, Before
// runs a function just before an operation is handled (to simulate a
// concurrent writer). Inspection helpers expose versions, labels and
// parameter values.
package awstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jonboulle/clockwork"
)

// Default test identity.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccessKey = "AKIDROTATORTEST00001"
	DefaultSecretKey = "rotator/test/secret/access/key/0000000000"
	DefaultAccountID = "123456789012"
)

// Config configures a Server; the zero value is usable.
type Config struct {
	Region    string // DefaultRegion when empty
	AccessKey string // DefaultAccessKey when empty
	SecretKey string // DefaultSecretKey when empty
	AccountID string // DefaultAccountID when empty
	// Clock stamps versions and dates; the real clock when nil. Signature
	// times are always checked against the real clock, since clients sign
	// with it.
	Clock clockwork.Clock
}

// Server is a running test server. Its methods are safe for concurrent use.
type Server struct {
	cfg Config
	ts  *httptest.Server

	mu       sync.Mutex
	down     bool
	stall    chan struct{}       // non-nil while stalled; closed to release
	failures map[string][]string // op -> queued error codes
	before   map[string][]func()
	calls    []string
	secrets  []*secret
	params   map[string]*parameter
	seq      int
}

// New starts a server on a loopback port. Close it when done.
func New(cfg Config) *Server {
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.AccessKey == "" {
		cfg.AccessKey = DefaultAccessKey
	}
	if cfg.SecretKey == "" {
		cfg.SecretKey = DefaultSecretKey
	}
	if cfg.AccountID == "" {
		cfg.AccountID = DefaultAccountID
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	s := &Server{
		cfg:      cfg,
		failures: map[string][]string{},
		before:   map[string][]func(){},
		params:   map[string]*parameter{},
	}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL is the endpoint to give clients ("http://127.0.0.1:port").
func (s *Server) URL() string { return s.ts.URL }

// Close releases any stalled request and shuts the server down.
func (s *Server) Close() {
	s.Stall(false)
	s.ts.Close()
}

// AccessKey is the access key id the server accepts.
func (s *Server) AccessKey() string { return s.cfg.AccessKey }

// SecretKey is the secret access key the server verifies signatures with.
func (s *Server) SecretKey() string { return s.cfg.SecretKey }

// Region is the only region the server accepts in credential scopes.
func (s *Server) Region() string { return s.cfg.Region }

// Credentials returns a static provider of the server's credentials.
func (s *Server) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(s.cfg.AccessKey, s.cfg.SecretKey, "")
}

// Env returns the environment variables that point the AWS CLI or the
// SDK's default credential chain at this server (without the endpoint,
// which is passed with --endpoint-url or the sink's endpoint option).
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.cfg.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.cfg.SecretKey,
		"AWS_REGION=" + s.cfg.Region,
		"AWS_DEFAULT_REGION=" + s.cfg.Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// FailNext makes the next n calls of op fail with the AWS error code
// errorType (ThrottlingException, InternalServiceError, AccessDeniedException,
// ...), after the signature is verified and before the operation runs. op is
// "PutSecretValue" or the full target "secretsmanager.PutSecretValue".
func (s *Server) FailNext(op string, n int, errorType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op = shortOp(op)
	for i := 0; i < n; i++ {
		s.failures[op] = append(s.failures[op], errorType)
	}
}

// Down makes the server drop every connection without answering (as an
// unreachable endpoint would) while down is true.
func (s *Server) Down(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Stall makes the server accept requests and not answer them while
// stalled is true (a request returns when the client gives up or the stall
// ends), to test that clients honour cancellation mid-request.
func (s *Server) Stall(stalled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case stalled && s.stall == nil:
		s.stall = make(chan struct{})
	case !stalled && s.stall != nil:
		close(s.stall)
		s.stall = nil
	}
}

// Before runs fn once, just before the next call of op is handled (after
// its signature is verified), outside the server's lock: fn may use the
// server's helpers to change state under the client's feet.
func (s *Server) Before(op string, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op = shortOp(op)
	s.before[op] = append(s.before[op], fn)
}

// Calls returns the operations handled so far (short names, in order),
// including those that failed.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// CallCount returns how many times op was called.
func (s *Server) CallCount(op string) int {
	n := 0
	for _, c := range s.Calls() {
		if c == shortOp(op) {
			n++
		}
	}
	return n
}

func shortOp(op string) string {
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		return op[i+1:]
	}
	return op
}

func (s *Server) now() time.Time { return time.Now() }

type handler func(s *Server, body []byte) (any, *apiError)

var operations = map[string]struct {
	service string
	fn      handler
}{
	"secretsmanager.CreateSecret":             {"secretsmanager", (*Server).createSecret},
	"secretsmanager.DescribeSecret":           {"secretsmanager", (*Server).describeSecret},
	"secretsmanager.GetSecretValue":           {"secretsmanager", (*Server).getSecretValue},
	"secretsmanager.PutSecretValue":           {"secretsmanager", (*Server).putSecretValue},
	"secretsmanager.UpdateSecretVersionStage": {"secretsmanager", (*Server).updateSecretVersionStage},
	"secretsmanager.ListSecretVersionIds":     {"secretsmanager", (*Server).listSecretVersionIds},
	"secretsmanager.TagResource":              {"secretsmanager", (*Server).tagResource},
	"AmazonSSM.PutParameter":                  {"ssm", (*Server).putParameter},
	"AmazonSSM.GetParameter":                  {"ssm", (*Server).getParameter},
	"AmazonSSM.GetParameters":                 {"ssm", (*Server).getParameters},
	"AmazonSSM.AddTagsToResource":             {"ssm", (*Server).addTagsToResource},
	"AmazonSSM.ListTagsForResource":           {"ssm", (*Server).listTagsForResource},
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.transportFault(w, r) {
		return
	}
	w.Header().Set("X-Amzn-RequestId", s.requestID())
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil {
		errorf("SerializationException", "could not read the request body").write(w)
		return
	}
	if len(body) > 1<<20 {
		errorf("SerializationException", "request body too large").write(w)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := operations[target]
	if r.Method != http.MethodPost || r.URL.Path != "/" || !ok {
		errorf("UnknownOperationException", "").write(w)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		errorf("SerializationException", "Content-Type %q is not supported; use application/x-amz-json-1.1", ct).write(w)
		return
	}
	if aerr := s.verify(r, body, op.service); aerr != nil {
		aerr.write(w)
		return
	}
	if aerr := s.record(shortOp(target)); aerr != nil {
		aerr.write(w)
		return
	}
	if !json.Valid(body) || !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		errorf("SerializationException", "Start of structure or map found where not expected.").write(w)
		return
	}
	s.mu.Lock()
	out, aerr := op.fn(s, body)
	s.mu.Unlock()
	if aerr != nil {
		aerr.write(w)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// transportFault stalls the request while a stall is set (returning true
// if the client gives up first) and, while the server is down, drops the
// connection without a response; it reports whether it handled the request.
func (s *Server) transportFault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	down, stall := s.down, s.stall
	s.mu.Unlock()
	if stall != nil {
		select {
		case <-stall:
		case <-r.Context().Done():
			return true
		}
	}
	if down {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	}
	return false
}

// record logs a call to the operation name, runs the first hook queued
// before it, and returns the first failure queued for it, if any.
func (s *Server) record(name string) *apiError {
	s.mu.Lock()
	s.calls = append(s.calls, name)
	var hooks []func()
	if h := s.before[name]; len(h) > 0 {
		hooks, s.before[name] = h[:1], h[1:]
	}
	var fail string
	if q := s.failures[name]; len(q) > 0 {
		fail, s.failures[name] = q[0], q[1:]
	}
	s.mu.Unlock()

	for _, h := range hooks {
		h()
	}
	if fail == "" {
		return nil
	}
	msg := "Injected failure"
	if fail == "ThrottlingException" {
		msg = "Rate exceeded"
	}
	return errorf(fail, "%s", msg)
}

func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", s.seq)
}

// decode unmarshals a request body into in; the caller holds s.mu.
func decode(body []byte, in any) *apiError {
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(in); err != nil {
		return errorf("SerializationException", "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// epoch renders a time as the JSON 1.1 protocol does: seconds since the
// epoch, with milliseconds.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
