package awssm_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awssm"
	"github.com/rotator-dev/rotator/internal/sinks/awstest"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
)

func section(t testing.TB, path, src string) config.Section {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml.Unmarshal([]byte(src), &doc): %v", err)
	}
	return config.Section{Path: path, Type: awssm.Type, Node: doc.Content[0]}
}

// newSink builds a sink on srv, with one attempt per call so that injected
// faults are not retried with backoff.
func newSink(t testing.TB, srv *awstest.Server, deps sinks.Deps) *awssm.Sink {
	t.Helper()
	cfg, err := awssm.ParseConfig(section(t, "sinks.aws",
		fmt.Sprintf("{type: aws-secretsmanager, region: %s, endpoint: %q, max_attempts: 1}", srv.Region(), srv.URL())))
	if err != nil {
		t.Fatalf("awssm.ParseConfig: %v", err)
	}
	cfg.Credentials = srv.Credentials()
	if deps.Logger == nil {
		deps = sinks.Deps{Name: "aws", Logger: zap.NewNop(), Clock: clockwork.NewFakeClock(), UserAgent: "rotator/test"}
	}
	s, err := awssm.New(cfg, deps)
	if err != nil {
		t.Fatalf("awssm.New: %v", err)
	}
	return s
}

func bind(t testing.TB, s *awssm.Sink, src string) *awssm.Target {
	t.Helper()
	tg, err := s.Bind(section(t, "keys[0].sinks[0]", src))
	if err != nil {
		t.Fatalf("s.Bind: %v", err)
	}
	return tg.(*awssm.Target)
}

func TestContract(t *testing.T) {
	servers := map[sinks.Target]*awstest.Server{}
	ids := map[sinks.Target]string{}
	n := 0
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T, deps sinks.Deps) sinks.Target {
			srv := awstest.New(awstest.Config{})
			t.Cleanup(srv.Close)
			n++
			id := fmt.Sprintf("prod/mail/contract-%d", n)
			tg := bind(t, newSink(t, srv, deps), "{sink: aws, secret_id: "+id+", create: true, fields: {a: b}}")
			servers[tg], ids[tg] = srv, id
			return tg
		},
		// Another writer puts a value (AWSCURRENT moves to it) after the
		// sink described the secret and before its PutSecretValue.
		Concurrent: func(t *testing.T, tg sinks.Target) {
			srv, id := servers[tg], ids[tg]
			srv.Before("PutSecretValue", func() { srv.PutSecretValue(id, `{"other":"writer"}`) })
		},
		Down: func(t *testing.T, tg sinks.Target) func() {
			servers[tg].Down(true)
			return func() { servers[tg].Down(false) }
		},
		Stall: func(t *testing.T, tg sinks.Target) func() {
			servers[tg].Stall(true)
			return func() { servers[tg].Stall(false) }
		},
		// Another team's secret: created without the tag.
		Foreign: func(t *testing.T, tg sinks.Target, data sinks.Secret) {
			b, err := json.Marshal(data)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			servers[tg].CreateSecret(ids[tg], string(b))
		},
		Rebind: func(t *testing.T, tg sinks.Target, adopt bool, deps sinks.Deps) sinks.Target {
			return bind(t, newSink(t, servers[tg], deps), fmt.Sprintf("{sink: aws, secret_id: %s, create: true, adopt: %t}", ids[tg], adopt))
		},
		Secrets: []string{awstest.DefaultSecretKey},
	})
}

// ours is the tag that makes a secret rotator's: the tests that pre-create
// a secret are about other things than ownership (see owner_test.go).
var ours = awstest.Tag{Key: "managed-by", Value: "rotator"}

const rotation1 = "0f8fad5b-d9cb-469f-a165-70867728950e"

const rotation2 = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

func write(id string, data sinks.Secret) sinks.Write {
	return sinks.Write{RotationID: id, KeyID: "k1", KeyName: "rotator-x", RotatedAt: time.Now(), Data: data}
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
