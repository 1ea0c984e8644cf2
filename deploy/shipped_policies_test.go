package deploy

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// shippedPolicy is one policy a user may start from, and where it comes from.
type shippedPolicy struct {
	name string // where it is shipped: a file, or a document and its block
	src  string
}

// policyMarker marks a policy in a Markdown document: the fenced YAML
// block after `<!-- shipped-policy: NAME -->` is booted by
// TestShippedPoliciesBoot, so the docs themselves are what is tested.
var policyMarker = regexp.MustCompile(`^\s*<!-- shipped-policy: ([a-z0-9-]+) -->\s*$`)

// markdownPolicies returns the marked policy blocks of a Markdown file,
// dedented (blocks inside list items are indented).
func markdownPolicies(t *testing.T, file string) []shippedPolicy {
	t.Helper()
	lines := strings.Split(readFile(t, file), "\n")
	var out []shippedPolicy
	for i := 0; i < len(lines); i++ {
		m := policyMarker.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(strings.TrimSpace(lines[i+1]), "```yaml") {
			t.Fatalf("%s:%d: shipped-policy marker %q is not followed by a ```yaml block", file, i+1, m[1])
		}
		indent := lines[i+1][:len(lines[i+1])-len(strings.TrimLeft(lines[i+1], " "))]
		var b strings.Builder
		j := i + 2
		for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			b.WriteString(strings.TrimPrefix(lines[j], indent) + "\n")
		}
		if j == len(lines) {
			t.Fatalf("%s:%d: the block of shipped-policy %q is not closed", file, i+2, m[1])
		}
		out = append(out, shippedPolicy{name: fmt.Sprintf("%s#%s", filepath.Base(file), m[1]), src: b.String()})
		i = j
	}
	return out
}

// overlayPolicies returns the policy files a kustomization generates the
// rotator-config ConfigMap from.
func overlayPolicies(t *testing.T, dir string) []shippedPolicy {
	t.Helper()
	var k struct {
		ConfigMapGenerator []struct {
			Name  string   `yaml:"name"`
			Files []string `yaml:"files"`
		} `yaml:"configMapGenerator"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(dir, "kustomization.yaml"))), &k); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	var out []shippedPolicy
	for _, g := range k.ConfigMapGenerator {
		for _, f := range g.Files {
			if g.Name != "rotator-config" {
				continue
			}
			_, file, _ := strings.Cut(f, "=") // key=file or file
			if file == "" {
				file = f
			}
			path := filepath.Join(dir, file)
			rel, _ := filepath.Rel(repoRoot(t), path)
			out = append(out, shippedPolicy{name: rel, src: readFile(t, path)})
		}
	}
	return out
}

// helmPolicy returns the policy in the Helm chart's default values.
func helmPolicy(t *testing.T) shippedPolicy {
	t.Helper()
	var v struct {
		Policy string `yaml:"policy"`
	}
	path := filepath.Join("helm", "rotator", "values.yaml")
	if err := yaml.Unmarshal([]byte(readFile(t, path)), &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if strings.TrimSpace(v.Policy) == "" {
		t.Fatalf("%s has no policy", path)
	}
	return shippedPolicy{name: "deploy/helm/rotator/values.yaml", src: v.Policy}
}

// shippedPolicies is every policy the repository ships.
func shippedPolicies(t *testing.T) []shippedPolicy {
	t.Helper()
	root := repoRoot(t)
	out := []shippedPolicy{
		{name: "rotator.example.yaml", src: readFile(t, filepath.Join(root, "rotator.example.yaml"))},
	}
	out = append(out, overlayPolicies(t, filepath.Join(root, "deploy", "kubernetes", "common"))...)
	overlays, err := filepath.Glob(filepath.Join(root, "deploy", "kubernetes", "overlays", "*", "kustomization.yaml"))
	if err != nil || len(overlays) == 0 {
		t.Fatalf("no overlays under deploy/kubernetes/overlays: %v", err)
	}
	for _, o := range overlays {
		ps := overlayPolicies(t, filepath.Dir(o))
		if len(ps) == 0 {
			t.Errorf("%s does not replace the policy (configMapGenerator rotator-config)", o)
		}
		out = append(out, ps...)
	}
	out = append(out, helmPolicy(t))
	// The docs: at least this many marked policies each, so that a lost
	// marker cannot silently drop a policy from the test.
	for file, least := range map[string]int{"README.md": 2, "docs/deploying.md": 1} {
		ps := markdownPolicies(t, filepath.Join(root, file))
		if len(ps) < least {
			t.Errorf("%s has %d shipped-policy blocks, want at least %d", file, len(ps), least)
		}
		out = append(out, ps...)
	}
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	for _, d := range docs {
		if filepath.Base(d) != "deploying.md" {
			out = append(out, markdownPolicies(t, d)...)
		}
	}
	return out
}

// TestShippedPoliciesBoot starts the daemon on every shipped policy, on an
// empty volume, against the test servers, and waits for /readyz: its
// start-up checks (provider logins, sink reachability and permissions, the
// file sinks' folders) must pass. Only what must change is rewritten:
// provider and sink endpoints, the listen port, absolute paths (into a
// temporary folder), and credentials files.
func TestShippedPoliciesBoot(t *testing.T) {
	bin := buildRotator(t)
	for _, p := range shippedPolicies(t) {
		t.Run(strings.ReplaceAll(p.name, "/", "_"), func(t *testing.T) {
			t.Parallel()
			b := newBootEnv(t)
			cfg := b.rewrite(p.src)
			proc := startProcess(t, b.dir, b.env, bin, "--config", cfg, "--log-format", "json")
			waitReady(t, p.name, proc, b.listen)
		})
	}
}

func TestMarkdownPolicies(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "a.md")
	writeFile(t, doc, "text\n<!-- shipped-policy: one -->\n```yaml\nlisten: x\n```\n"+
		"1. step\n   <!-- shipped-policy: two -->\n   ```yaml\n   state:\n     path: y\n   ```\n")
	ps := markdownPolicies(t, doc)
	if len(ps) != 2 || ps[0].src != "listen: x\n" || ps[1].src != "state:\n  path: y\n" || ps[1].name != "a.md#two" {
		t.Errorf("markdownPolicies: %+v", ps)
	}
}
