package config

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"testing"
)

// TestEveryFieldIsDocumented: every YAML field the policy accepts outside
// the provider and sink sections appears, in backticks, in
// docs/configuration.md (a field added without its line fails here).
func TestEveryFieldIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, rt := range []reflect.Type{reflect.TypeOf(raw{}), reflect.TypeOf(rawHook{}), reflect.TypeOf(rawHookRef{})} {
		collectFields(rt, names)
	}
	var missing []string
	for name := range names {
		re := regexp.MustCompile("`[^`\n]*\\b" + regexp.QuoteMeta(name) + "\\b[^`\n]*`")
		if !re.Match(doc) {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("docs/configuration.md does not mention %q", missing)
	}
	if len(names) < 30 {
		t.Errorf("only %d fields found: %v", len(names), names)
	}
}

func collectFields(t reflect.Type, into map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == nodeType {
		return
	}
	for name, ft := range yamlFields(t) {
		if !into[name] {
			into[name] = true
			collectFields(ft, into)
		}
	}
}
