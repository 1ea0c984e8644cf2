package wire

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
)

var knownRE = regexp.MustCompile(`\(known: ([^)]*)\)`)

// knownFields are the fields a provider or sink section (or a target of
// it) accepts, read from the unknown-field error its strict decoding gives.
func knownFields(t *testing.T, yml string) []string {
	t.Helper()
	cfg, err := config.Load(strings.NewReader(yml), t.TempDir())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	_, err = Build(cfg, Deps{Logger: zap.NewNop(), Clock: clockwork.NewFakeClock()})
	m := knownRE.FindStringSubmatch(errString(err))
	if m == nil {
		t.Fatalf("no list of known fields in %v", err)
	}
	return strings.Split(m[1], ", ")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestEverySectionFieldIsDocumented: every field of every provider and
// sink section, and of their targets, appears in backticks in
// docs/configuration.md.
func TestEverySectionFieldIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	sinkSections := map[string]string{
		"file":               "{type: file, dir: /out, zzz: 1}",
		"vault":              "{type: vault, address: 'https://vault:8200', token: t, zzz: 1}",
		"aws-secretsmanager": "{type: aws-secretsmanager, region: eu-west-1, zzz: 1}",
		"aws-ssm":            "{type: aws-ssm, region: eu-west-1, zzz: 1}",
	}
	targets := map[string]string{
		"file":               "{sink: out, path: p, zzz: 1}",
		"vault":              "{sink: out, path: p, zzz: 1}",
		"aws-secretsmanager": "{sink: out, secret_id: s, zzz: 1}",
		"aws-ssm":            "{sink: out, parameter: /p, zzz: 1}",
	}
	var lists [][]string
	for _, p := range []string{"{type: smtpd, username: u, password: p, zzz: 1}", "{type: emailit, api_key: k, zzz: 1}"} {
		lists = append(lists, knownFields(t, "providers:\n  p: "+p+"\nsinks:\n  out: {type: file, dir: /out}\nkeys:\n  - {name: k, provider: p, params: {scope: sending}, sinks: [{sink: out, path: p}]}\n"))
	}
	for typ, s := range sinkSections {
		lists = append(lists, knownFields(t, "providers:\n  p: {type: smtpd, username: u, password: p}\nsinks:\n  out: "+s+"\nkeys:\n  - {name: k, provider: p, params: {role: iac}, sinks: [{sink: out, path: p}]}\n"))
		ok := strings.Replace(s, ", zzz: 1", "", 1)
		lists = append(lists, knownFields(t, "providers:\n  p: {type: smtpd, username: u, password: p}\nsinks:\n  out: "+ok+"\nkeys:\n  - {name: k, provider: p, params: {role: iac}, sinks: ["+targets[typ]+"]}\n"))
	}
	seen := 0
	for _, list := range lists {
		for _, name := range list {
			seen++
			if !regexp.MustCompile("`[^`\n]*\\b" + regexp.QuoteMeta(name) + "\\b[^`\n]*`").Match(doc) {
				t.Errorf("docs/configuration.md does not mention %q (known in %v)", name, list)
			}
		}
	}
	if seen < 40 {
		t.Errorf("only %d fields found", seen)
	}
}
