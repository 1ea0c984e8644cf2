package deploy

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/providers/emailit/emailittest"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
	"github.com/rotator-dev/rotator/internal/sinks/awstest"
	"github.com/rotator-dev/rotator/internal/testing/vaulttest"
)

// bootEnv is the machine a shipped policy boots on: an empty temporary
// folder standing for the volumes, credentials files, and a test server
// for every provider and remote sink the policy names.
type bootEnv struct {
	t      *testing.T
	dir    string   // everything lives here
	volume string   // stands for /var/lib/rotator: exists, empty
	creds  string   // stands for /etc/rotator/credentials and $CREDENTIALS_DIRECTORY
	policy string   // the policy's folder (relative paths resolve here)
	env    []string // for the daemon
	listen string
}

func newBootEnv(t *testing.T) *bootEnv {
	t.Helper()
	dir := t.TempDir()
	b := &bootEnv{t: t, dir: dir, volume: filepath.Join(dir, "var-lib-rotator"),
		creds: filepath.Join(dir, "credentials"), policy: filepath.Join(dir, "etc-rotator"), listen: freePort(t)}
	for _, d := range []string{b.volume, b.creds, b.policy} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	b.env = []string{"CREDENTIALS_DIRECTORY=" + b.creds}
	return b
}

// rewrite moves the policy onto this machine and returns its path.
func (b *bootEnv) rewrite(src string) string {
	t := b.t
	src = strings.NewReplacer("/var/lib/rotator", b.volume, "/etc/rotator/credentials", b.creds).Replace(src)
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil || len(doc.Content) != 1 {
		t.Fatalf("policy does not parse: %v", err)
	}
	root := doc.Content[0]
	setScalar(root, "listen", b.listen)
	for name, p := range mapEntries(root, "providers") {
		b.provider(name, p)
	}
	for name, s := range mapEntries(root, "sinks") {
		b.sink(name, s)
	}
	for _, h := range mapEntries(root, "hooks") {
		if scalar(h, "type") == "webhook" {
			b.credential(h, "secret", "whsec-boot-test") // secret_file: the HMAC key
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(b.policy, "rotator.yaml")
	writeFile(t, path, string(out))
	return path
}

// provider points one provider at a new test server and writes its
// management credential where the policy reads it.
func (b *bootEnv) provider(name string, p *yaml.Node) {
	switch typ := scalar(p, "type"); typ {
	case "smtpd":
		srv := smtpdtest.New(smtpdtest.Config{Username: scalar(p, "username")})
		b.t.Cleanup(srv.Close)
		setScalar(p, "base_url", srv.URL())
		b.credential(p, "password", srv.Password())
	case "emailit":
		srv := emailittest.New(emailittest.Config{})
		b.t.Cleanup(srv.Close)
		setScalar(p, "base_url", srv.URL())
		b.credential(p, "api_key", srv.ManagementKey())
	default:
		b.t.Fatalf("providers.%s: type %q has no test server here", name, typ)
	}
}

func (b *bootEnv) sink(name string, s *yaml.Node) {
	switch typ := scalar(s, "type"); typ {
	case "file":
	case "vault":
		v := vaulttest.Require(b.t)
		setScalar(s, "address", v.Address)
		for _, k := range []string{"ca_cert", "tls_server_name"} {
			deleteKey(s, k)
		}
		if findKey(s, "approle") != nil || findKey(s, "kubernetes") != nil {
			b.t.Fatalf("sinks.%s: only token auth is wired to the test Vault here", name)
		}
		b.credential(s, "token", v.RootToken)
	case "aws-secretsmanager", "aws-ssm":
		srv := awstest.New(awstest.Config{Region: scalar(s, "region")})
		b.t.Cleanup(srv.Close)
		setScalar(s, "endpoint", srv.URL())
		b.env = append(b.env, srv.Env()...)
	default:
		b.t.Fatalf("sinks.%s: type %q has no test server here", name, typ)
	}
}

// credential writes a secret where the policy reads it: the file named by
// field_file (expanded and resolved like the daemon does), or field inline.
func (b *bootEnv) credential(n *yaml.Node, field, secret string) {
	if f := scalar(n, field+"_file"); f != "" {
		f = os.Expand(f, func(v string) string {
			if v == "CREDENTIALS_DIRECTORY" {
				return b.creds
			}
			return os.Getenv(v)
		})
		if !filepath.IsAbs(f) {
			f = filepath.Join(b.policy, f)
		}
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			b.t.Fatal(err)
		}
		writeFile(b.t, f, secret+"\n")
		return
	}
	setScalar(n, field, secret)
}

// waitReady waits for the daemon's /readyz, failing with its log when it
// exits or does not get there within a minute.
func waitReady(t *testing.T, what string, p *process, listen string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	poll(ctx, t, what+" /readyz", []*process{p}, func() error {
		resp, err := http.Get("http://" + listen + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	})
}

// YAML node helpers for a mapping node.

func findKey(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalar(m *yaml.Node, key string) string {
	if v := findKey(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

func setScalar(m *yaml.Node, key, value string) {
	if v := findKey(m, key); v != nil {
		v.Kind, v.Tag, v.Value, v.Style = yaml.ScalarNode, "!!str", value, yaml.DoubleQuotedStyle
		return
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value, Style: yaml.DoubleQuotedStyle})
}

func deleteKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

func mapEntries(m *yaml.Node, key string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	v := findKey(m, key)
	if v == nil || v.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		out[v.Content[i].Value] = v.Content[i+1]
	}
	return out
}
