package awsssm_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awsssm"
	"github.com/rotator-dev/rotator/internal/sinks/awstest"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
)

func section(t *testing.T, path, src string) config.Section {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml.Unmarshal([]byte(src), &doc): %v", err)
	}
	return config.Section{Path: path, Type: awsssm.Type, Node: doc.Content[0]}
}

func newSink(t *testing.T, srv *awstest.Server, deps sinks.Deps) *awsssm.Sink {
	t.Helper()
	cfg, err := awsssm.ParseConfig(section(t, "sinks.ssm",
		fmt.Sprintf("{type: aws-ssm, region: %s, endpoint: %q, max_attempts: 1}", srv.Region(), srv.URL())))
	if err != nil {
		t.Fatalf("awsssm.ParseConfig: %v", err)
	}
	cfg.Credentials = srv.Credentials()
	if deps.Logger == nil {
		deps = sinks.Deps{Name: "ssm", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock(), UserAgent: "rotator/test"}
	}
	s, err := awsssm.New(cfg, deps)
	if err != nil {
		t.Fatalf("awsssm.New: %v", err)
	}
	return s
}

func bind(t *testing.T, s *awsssm.Sink, src string) *awsssm.Target {
	t.Helper()
	tg, err := s.Bind(section(t, "keys[0].sinks[0]", src))
	if err != nil {
		t.Fatalf("s.Bind: %v", err)
	}
	return tg.(*awsssm.Target)
}

func TestContract(t *testing.T) {
	perField := map[string]string{"key": "/prod/mail/key", "secret": "/prod/mail/secret",
		"key_id": "/prod/mail/key-id", "key_name": "/prod/mail/key-name", "created_at": "/prod/mail/created-at"}
	for mode, target := range map[string]string{
		"OneParameter": "{sink: ssm, parameter: /prod/mail/creds, fields: {a: b}}",
		"PerField": `{sink: ssm, kms_key_id: alias/rotator, parameters: {key: /prod/mail/key, secret: /prod/mail/secret,
			key_id: /prod/mail/key-id, key_name: /prod/mail/key-name, created_at: /prod/mail/created-at}}`,
	} {
		t.Run(mode, func(t *testing.T) {
			servers := map[sinks.Target]*awstest.Server{}
			sinktest.Run(t, sinktest.Harness{
				New: func(t *testing.T, deps sinks.Deps) sinks.Target {
					srv := awstest.New(awstest.Config{})
					t.Cleanup(srv.Close)
					tg := bind(t, newSink(t, srv, deps), target)
					servers[tg] = srv
					return tg
				},
				// Concurrent is nil: Parameter Store has no compare-and-set.
				Down: func(t *testing.T, tg sinks.Target) func() {
					servers[tg].Down(true)
					return func() { servers[tg].Down(false) }
				},
				Stall: func(t *testing.T, tg sinks.Target) func() {
					servers[tg].Stall(true)
					return func() { servers[tg].Stall(false) }
				},
				// Another team's parameters: written without the tag.
				Foreign: func(t *testing.T, tg sinks.Target, data sinks.Secret) {
					if mode == "OneParameter" {
						b, err := json.Marshal(data)
						if err != nil {
							t.Fatalf("json.Marshal: %v", err)
						}
						servers[tg].SetParameter("/prod/mail/creds", "SecureString", string(b))
						return
					}
					for f, name := range perField {
						servers[tg].SetParameter(name, "SecureString", data[f])
					}
				},
				Rebind: func(t *testing.T, tg sinks.Target, adopt bool, deps sinks.Deps) sinks.Target {
					src := strings.Replace(target, "{sink: ssm,", fmt.Sprintf("{sink: ssm, adopt: %t,", adopt), 1)
					return bind(t, newSink(t, servers[tg], deps), src)
				},
				Secrets: []string{awstest.DefaultSecretKey},
			})
		})
	}
}

// ours is the tag that makes a parameter rotator's: the tests that
// pre-create one are about other things than ownership (see owner_test.go).
var ours = awstest.Tag{Key: "managed-by", Value: "rotator"}

func write(data sinks.Secret) sinks.Write {
	return sinks.Write{RotationID: "0f8fad5b-d9cb-469f-a165-70867728950e", KeyID: "k1", KeyName: "n", RotatedAt: time.Now(), Data: data}
}

func TestOneParameterSecureStringAndIdempotence(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: ssm, parameter: /prod/mail/creds, kms_key_id: alias/rotator}")
	ctx := t.Context()

	v, err := tg.Write(ctx, write(sinks.Secret{"api_key": "k1"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if v != "1" {
		t.Fatalf("v = %q, want %q", v, "1")
	}
	p, ok := srv.Parameter("/prod/mail/creds")
	if !ok {
		t.Fatalf("ok: got false, want true")
	}
	if p.Type != "SecureString" {
		t.Fatalf("p.Type = %q, want %q", p.Type, "SecureString")
	}
	if p.KeyID != "alias/rotator" {
		t.Fatalf("p.KeyID = %q, want %q", p.KeyID, "alias/rotator")
	}
	if want, got := jsonValue(t, `{"api_key":"k1"}`), jsonValue(t, p.Value); !reflect.DeepEqual(want, got) {
		t.Fatalf("got JSON %s, want %s", p.Value, `{"api_key":"k1"}`)
	}

	// The same value again: no new version, no PutParameter.
	puts := srv.CallCount("PutParameter")
	v, err = tg.Write(ctx, write(sinks.Secret{"api_key": "k1"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if v != "1" {
		t.Fatalf("v = %q, want %q", v, "1")
	}
	if got := srv.CallCount("PutParameter"); got != puts {
		t.Fatalf("srv.CallCount(\"PutParameter\") = %v, want %v", got, puts)
	}

	v, err = tg.Write(ctx, write(sinks.Secret{"api_key": "k2"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if v != "2" {
		t.Fatalf("v = %q, want %q", v, "2")
	}
	got, err := tg.Read(ctx)
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if want := (sinks.Secret{"api_key": "k2"}); !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}
	if got := srv.ParameterHistory("/prod/mail/creds"); len(got) != 2 {
		t.Fatalf("len(srv.ParameterHistory(\"/prod/mail/creds\")) = %d, want %d: %+v", len(got), 2, got)
	}
}

func TestPerFieldMapping(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	tg := bind(t, newSink(t, srv, sinks.Deps{}),
		"{sink: ssm, parameters: {api_key: /prod/mail/emailit-key, key_id: /prod/mail/emailit-key-id}}")
	ctx := t.Context()
	srv.SetParameter("/prod/mail/emailit-key-id", "SecureString", "id-1") // already right: left alone
	srv.TagParameter("/prod/mail/emailit-key-id", ours)

	v, err := tg.Write(ctx, write(sinks.Secret{"api_key": "secret-1", "key_id": "id-1"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if v != "/prod/mail/emailit-key:1,/prod/mail/emailit-key-id:1" {
		t.Fatalf("v = %q, want %q", v, "/prod/mail/emailit-key:1,/prod/mail/emailit-key-id:1")
	}
	p, _ := srv.Parameter("/prod/mail/emailit-key")
	if p.Value != "secret-1" {
		t.Fatalf("p.Value = %q, want %q", p.Value, "secret-1")
	}
	if p.KeyID != "alias/aws/ssm" {
		t.Fatalf("the default key when kms_key_id is unset: got %q, want %q", p.KeyID, "alias/aws/ssm")
	}
	if got := srv.CallCount("PutParameter"); got != 1 {
		t.Fatalf("srv.CallCount(\"PutParameter\") = %v, want %v", got, 1)
	}

	got, err := tg.Read(ctx)
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if want := (sinks.Secret{"api_key": "secret-1", "key_id": "id-1"}); !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}

	// A field that is not mapped: a config error naming it, nothing written.
	_, err = tg.Write(ctx, write(sinks.Secret{"api_key": "secret-2", "key_id": "id-2", "created_at": "x"}))
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("errors.As(err, &fe): got false, want true")
	}
	if fe.Path != "keys[0].sinks[0].parameters" {
		t.Fatalf("fe.Path = %q, want %q", fe.Path, "keys[0].sinks[0].parameters")
	}
	if fe.Line <= 0 {
		t.Fatalf("the error names the line of parameters: got %v, want a positive value", fe.Line)
	}
	if err == nil || !strings.Contains(err.Error(), `field "created_at" is not mapped`) {
		t.Fatalf("got error %v, want one containing %q", err, `field "created_at" is not mapped`)
	}
	if got := err.Error(); strings.Contains(got, "secret-2") {
		t.Fatalf("got %q, want it not to contain %q", got, "secret-2")
	}
	// A mapped field the credential lacks.
	_, err = tg.Write(ctx, write(sinks.Secret{"api_key": "secret-2"}))
	if err == nil || !strings.Contains(err.Error(), `field "key_id" is mapped`) {
		t.Fatalf("tg.Write: got error %v, want one containing %q", err, `field "key_id" is mapped`)
	}
	p, _ = srv.Parameter("/prod/mail/emailit-key")
	if p.Value != "secret-1" {
		t.Fatalf("p.Value = %q, want %q", p.Value, "secret-1")
	}

	if err := tg.CheckFields([]string{"api_key", "key_id"}); err != nil {
		t.Fatalf("tg.CheckFields([]string{\"api_key\", \"key_id\"}): %v", err)
	}
	if err := tg.CheckFields([]string{"api_key", "key_id", "key_name"}); err == nil {
		t.Fatalf("tg.CheckFields([]string{\"api_key\", \"key_id\", \"key_name\"}): got no error, want one")
	}
}

func TestPartlyMissingIsNotFound(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: ssm, parameters: {a: /p/a, b: /p/b}}")
	srv.SetParameter("/p/a", "SecureString", "x")
	_, err := tg.Read(t.Context())
	if !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("tg.Read: got error %v, want one that is %v", err, sinks.ErrNotFound)
	}
	if err == nil || !strings.Contains(err.Error(), "/p/b") {
		t.Fatalf("got error %v, want one containing %q", err, "/p/b")
	}
}

func TestStringParameterIsNotSilentlyRetyped(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.SetParameter("/prod/plain", "String", `{"k":"old"}`)
	srv.TagParameter("/prod/plain", ours)
	s := newSink(t, srv, sinks.Deps{})
	tg := bind(t, s, "{sink: ssm, parameter: /prod/plain}")
	err := s.Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "/prod/plain") {
		t.Fatalf("s.Check: got error %v, want one containing %q", err, "/prod/plain")
	}
	if err == nil || !strings.Contains(err.Error(), "is a String") {
		t.Fatalf("got error %v, want one containing %q", err, "is a String")
	}
	_, err = tg.Write(t.Context(), write(sinks.Secret{"k": "new-secret-value"}))
	if err == nil || !strings.Contains(err.Error(), "/prod/plain") {
		t.Fatalf("tg.Write: got error %v, want one containing %q", err, "/prod/plain")
	}
	if err == nil || !strings.Contains(err.Error(), "HierarchyTypeMismatchException") {
		t.Fatalf("got error %v, want one containing %q", err, "HierarchyTypeMismatchException")
	}
	if got := err.Error(); strings.Contains(got, "new-secret-value") {
		t.Fatalf("got %q, want it not to contain %q", got, "new-secret-value")
	}
}

func TestManyParametersAreBatched(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	src := "{sink: ssm, parameters: {"
	data := sinks.Secret{}
	for i := range 12 {
		src += fmt.Sprintf("f%02d: /p/f%02d, ", i, i)
		data[fmt.Sprintf("f%02d", i)] = fmt.Sprintf("value-%d", i)
	}
	tg := bind(t, newSink(t, srv, sinks.Deps{}), src+"}}")
	_, err := tg.Write(t.Context(), write(data))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	got, err := tg.Read(t.Context())
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if !reflect.DeepEqual(data, got) {
		t.Fatalf("got = %+v, want %+v", got, data)
	}
}

func TestFaultsNameTheParameterAndCode(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	core, logs := observer.New(zapcore.DebugLevel)
	s := newSink(t, srv, sinks.Deps{Name: "ssm", Logger: zap.New(core), Clock: clockwork.NewFakeClock()})
	tg := bind(t, s, "{sink: ssm, parameter: /prod/x}")
	secret := "very-secret-api-key-value"

	srv.FailNext("PutParameter", 1, "ThrottlingException")
	_, err := tg.Write(t.Context(), write(sinks.Secret{"api_key": secret}))
	if err == nil || !strings.Contains(err.Error(), "/prod/x") {
		t.Fatalf("tg.Write: got error %v, want one containing %q", err, "/prod/x")
	}
	if err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Fatalf("got error %v, want one containing %q", err, "ThrottlingException")
	}
	if got := err.Error(); strings.Contains(got, secret) {
		t.Fatalf("got %q, want it not to contain %q", got, secret)
	}

	srv.FailNext("GetParameters", 1, "AccessDeniedException")
	err = s.Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "/prod/x") {
		t.Fatalf("s.Check: got error %v, want one containing %q", err, "/prod/x")
	}
	if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("got error %v, want one containing %q", err, "AccessDeniedException")
	}
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("a missing parameter is fine at check time: %v", err)
	}

	_, err = tg.Write(t.Context(), write(sinks.Secret{"api_key": secret}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	sinktest.AssertLogsNoSecret(t, logs, secret)
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"{type: aws-ssm, regoin: x}", `unknown field "regoin"`},
		{"{type: aws-ssm, endpoint: 'ftp://x'}", "sinks.ssm.endpoint"},
		{"{type: aws-ssm, max_attempts: -1}", "sinks.ssm.max_attempts"},
	} {
		_, err := awsssm.ParseConfig(section(t, "sinks.ssm", tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: got error %v, want one containing %q", tc.src, err, tc.want)
		}
	}
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	s := newSink(t, srv, sinks.Deps{})
	for _, tc := range []struct{ src, want string }{
		{"{sink: ssm}", "one of parameter or parameters must be configured"},
		{"{sink: ssm, parameter: /a, parameters: {x: /b}}", "keys[0].sinks[0].parameters (line 1): at most one"},
		{"{sink: ssm, parameter: 'a/b'}", "must start with /"},
		{"{sink: ssm, parameter: '/aws/x'}", "reserved"},
		{"{sink: ssm, parameter: '/a b'}", "not a valid parameter name"},
		{"{sink: ssm, parameters: {x: /a, y: /a}}", "keys[0].sinks[0].parameters.y"},
		{"{sink: ssm, parameters: {x: 'bad name'}}", "keys[0].sinks[0].parameters.x"},
		{"{sink: ssm, parameter: /a, secret_id: x}", `unknown field "secret_id"`},
	} {
		_, err := s.Bind(section(t, "keys[0].sinks[0]", tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: got error %v, want one containing %q", tc.src, err, tc.want)
		}
	}
}

// TestIAMPolicyCoversEveryCall runs every operation of the sink and checks
// that the IAM policy in deploy/policies allows each AWS action it called, and nothing more.
func TestIAMPolicyCoversEveryCall(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	s := newSink(t, srv, sinks.Deps{})
	one := bind(t, s, "{sink: ssm, parameter: /prod/mail/creds}")
	per := bind(t, s, "{sink: ssm, parameters: {k: /prod/mail/k}}")
	ctx := t.Context()
	if err := s.Check(ctx); err != nil {
		t.Fatalf("s.Check(ctx): %v", err)
	}
	for _, tg := range []*awsssm.Target{one, per} {
		for _, v := range []string{"v1", "v2"} { // create, then overwrite
			_, err := tg.Write(ctx, write(sinks.Secret{"k": v}))
			if err != nil {
				t.Fatalf("tg.Write: %v", err)
			}
		}
		_, err := tg.Read(ctx)
		if err != nil {
			t.Fatalf("tg.Read: %v", err)
		}
	}
	srv.SetParameter("/prod/mail/theirs", "SecureString", "x")
	_, err := bind(t, s, "{sink: ssm, parameter: /prod/mail/theirs, adopt: true}").Write(ctx, write(sinks.Secret{"k": "v"}))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	called := map[string]bool{}
	for _, op := range srv.Calls() {
		called["ssm:"+op] = true
	}
	called["ssm:AddTagsToResource"] = true // PutParameter with Tags needs it
	allowed, err := awstest.PolicyActions("../../../deploy/policies/aws-ssm.json", "ssm")
	if err != nil {
		t.Fatalf("awstest.PolicyActions: %v", err)
	}
	if !reflect.DeepEqual(called, allowed) {
		t.Fatalf("allowed = %+v, want %+v", allowed, called)
	}
}

func TestNewAndBindMakeNoCall(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	s := newSink(t, srv, sinks.Deps{})
	bind(t, s, "{sink: ssm, parameter: /a}")
	bind(t, s, "{sink: ssm, parameters: {x: /b, y: /c}}")
	if got := srv.Calls(); len(got) != 0 {
		t.Fatalf("srv.Calls() = %+v, want empty", got)
	}
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("s.Check(t.Context()): %v", err)
	}
	if got, want := srv.Calls(), []string{"GetParameters", "GetParameters"}; !reflect.DeepEqual(want, got) {
		t.Fatalf("srv.Calls() = %+v, want %+v", got, want)
	}
}

// jsonValue decodes s, failing the test if it is not JSON.
func jsonValue(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON (%v): %s", err, s)
	}
	return v
}
