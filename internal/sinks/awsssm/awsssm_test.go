package awsssm_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, yaml.Unmarshal([]byte(src), &doc))
	return config.Section{Path: path, Type: awsssm.Type, Node: doc.Content[0]}
}

func newSink(t *testing.T, srv *awstest.Server, deps sinks.Deps) *awsssm.Sink {
	t.Helper()
	cfg, err := awsssm.ParseConfig(section(t, "sinks.ssm",
		fmt.Sprintf("{type: aws-ssm, region: %s, endpoint: %q, max_attempts: 1}", srv.Region(), srv.URL())))
	require.NoError(t, err)
	cfg.Credentials = srv.Credentials()
	if deps.Logger == nil {
		deps = sinks.Deps{Name: "ssm", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock(), UserAgent: "rotator/test"}
	}
	s, err := awsssm.New(cfg, deps)
	require.NoError(t, err)
	return s
}

func bind(t *testing.T, s *awsssm.Sink, src string) *awsssm.Target {
	t.Helper()
	tg, err := s.Bind(section(t, "keys[0].sinks[0]", src))
	require.NoError(t, err)
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
						require.NoError(t, err)
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
	require.NoError(t, err)
	require.Equal(t, "1", v)
	p, ok := srv.Parameter("/prod/mail/creds")
	require.True(t, ok)
	require.Equal(t, "SecureString", p.Type)
	require.Equal(t, "alias/rotator", p.KeyID)
	require.JSONEq(t, `{"api_key":"k1"}`, p.Value)

	// The same value again: no new version, no PutParameter.
	puts := srv.CallCount("PutParameter")
	v, err = tg.Write(ctx, write(sinks.Secret{"api_key": "k1"}))
	require.NoError(t, err)
	require.Equal(t, "1", v)
	require.Equal(t, puts, srv.CallCount("PutParameter"))

	v, err = tg.Write(ctx, write(sinks.Secret{"api_key": "k2"}))
	require.NoError(t, err)
	require.Equal(t, "2", v)
	got, err := tg.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, sinks.Secret{"api_key": "k2"}, got)
	require.Len(t, srv.ParameterHistory("/prod/mail/creds"), 2)
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
	require.NoError(t, err)
	require.Equal(t, "/prod/mail/emailit-key:1,/prod/mail/emailit-key-id:1", v)
	p, _ := srv.Parameter("/prod/mail/emailit-key")
	require.Equal(t, "secret-1", p.Value)
	require.Equal(t, "alias/aws/ssm", p.KeyID, "the default key when kms_key_id is unset")
	require.Equal(t, 1, srv.CallCount("PutParameter"))

	got, err := tg.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, sinks.Secret{"api_key": "secret-1", "key_id": "id-1"}, got)

	// A field that is not mapped: a config error naming it, nothing written.
	_, err = tg.Write(ctx, write(sinks.Secret{"api_key": "secret-2", "key_id": "id-2", "created_at": "x"}))
	var fe *config.FieldError
	require.True(t, errors.As(err, &fe))
	require.Equal(t, "keys[0].sinks[0].parameters", fe.Path)
	require.Positive(t, fe.Line, "the error names the line of parameters")
	require.ErrorContains(t, err, `field "created_at" is not mapped`)
	require.NotContains(t, err.Error(), "secret-2")
	// A mapped field the credential lacks.
	_, err = tg.Write(ctx, write(sinks.Secret{"api_key": "secret-2"}))
	require.ErrorContains(t, err, `field "key_id" is mapped`)
	p, _ = srv.Parameter("/prod/mail/emailit-key")
	require.Equal(t, "secret-1", p.Value)

	require.NoError(t, tg.CheckFields([]string{"api_key", "key_id"}))
	require.Error(t, tg.CheckFields([]string{"api_key", "key_id", "key_name"}))
}

func TestPartlyMissingIsNotFound(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	tg := bind(t, newSink(t, srv, sinks.Deps{}), "{sink: ssm, parameters: {a: /p/a, b: /p/b}}")
	srv.SetParameter("/p/a", "SecureString", "x")
	_, err := tg.Read(t.Context())
	require.ErrorIs(t, err, sinks.ErrNotFound)
	require.ErrorContains(t, err, "/p/b")
}

func TestStringParameterIsNotSilentlyRetyped(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	srv.SetParameter("/prod/plain", "String", `{"k":"old"}`)
	srv.TagParameter("/prod/plain", ours)
	s := newSink(t, srv, sinks.Deps{})
	tg := bind(t, s, "{sink: ssm, parameter: /prod/plain}")
	err := s.Check(t.Context())
	require.ErrorContains(t, err, "/prod/plain")
	require.ErrorContains(t, err, "is a String")
	_, err = tg.Write(t.Context(), write(sinks.Secret{"k": "new-secret-value"}))
	require.ErrorContains(t, err, "/prod/plain")
	require.ErrorContains(t, err, "HierarchyTypeMismatchException")
	require.NotContains(t, err.Error(), "new-secret-value")
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
	require.NoError(t, err)
	got, err := tg.Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, data, got)
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
	require.ErrorContains(t, err, "/prod/x")
	require.ErrorContains(t, err, "ThrottlingException")
	require.NotContains(t, err.Error(), secret)

	srv.FailNext("GetParameters", 1, "AccessDeniedException")
	err = s.Check(t.Context())
	require.ErrorContains(t, err, "/prod/x")
	require.ErrorContains(t, err, "AccessDeniedException")
	require.NoError(t, s.Check(t.Context()), "a missing parameter is fine at check time")

	_, err = tg.Write(t.Context(), write(sinks.Secret{"api_key": secret}))
	require.NoError(t, err)
	sinktest.AssertLogsNoSecret(t, logs, secret)
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"{type: aws-ssm, regoin: x}", `unknown field "regoin"`},
		{"{type: aws-ssm, endpoint: 'ftp://x'}", "sinks.ssm.endpoint"},
		{"{type: aws-ssm, max_attempts: -1}", "sinks.ssm.max_attempts"},
	} {
		_, err := awsssm.ParseConfig(section(t, "sinks.ssm", tc.src))
		require.ErrorContains(t, err, tc.want, tc.src)
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
		require.ErrorContains(t, err, tc.want, tc.src)
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
	require.NoError(t, s.Check(ctx))
	for _, tg := range []*awsssm.Target{one, per} {
		for _, v := range []string{"v1", "v2"} { // create, then overwrite
			_, err := tg.Write(ctx, write(sinks.Secret{"k": v}))
			require.NoError(t, err)
		}
		_, err := tg.Read(ctx)
		require.NoError(t, err)
	}
	srv.SetParameter("/prod/mail/theirs", "SecureString", "x")
	_, err := bind(t, s, "{sink: ssm, parameter: /prod/mail/theirs, adopt: true}").Write(ctx, write(sinks.Secret{"k": "v"}))
	require.NoError(t, err)
	called := map[string]bool{}
	for _, op := range srv.Calls() {
		called["ssm:"+op] = true
	}
	called["ssm:AddTagsToResource"] = true // PutParameter with Tags needs it
	allowed, err := awstest.PolicyActions("../../../deploy/policies/aws-ssm.json", "ssm")
	require.NoError(t, err)
	require.Equal(t, called, allowed)
}

func TestNewAndBindMakeNoCall(t *testing.T) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	s := newSink(t, srv, sinks.Deps{})
	bind(t, s, "{sink: ssm, parameter: /a}")
	bind(t, s, "{sink: ssm, parameters: {x: /b, y: /c}}")
	require.Empty(t, srv.Calls())
	require.NoError(t, s.Check(t.Context()))
	require.Equal(t, []string{"GetParameters", "GetParameters"}, srv.Calls())
}
