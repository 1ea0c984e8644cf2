package deploy

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// markdownAnchors returns the anchors GitHub gives the headings of a
// Markdown document: lowercased, punctuation dropped, spaces to hyphens,
// and -1, -2, ... on repeats. Headings inside code blocks do not count.
func markdownAnchors(doc string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	inCode := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
			continue
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		slug := githubSlug(title)
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	return anchors
}

func githubSlug(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestGithubSlug(t *testing.T) {
	for title, want := range map[string]string{
		"RotatorDown":                     "rotatordown",
		"Binary and container image":      "binary-and-container-image",
		"smtpd.dev (`type: smtpd`)":       "smtpddev-type-smtpd",
		"What it guarantees":              "what-it-guarantees",
		"Five minutes: demo to real keys": "five-minutes-demo-to-real-keys",
	} {
		if got := githubSlug(title); got != want {
			t.Errorf("githubSlug(%q) = %q, want %q", title, got, want)
		}
	}
	got := markdownAnchors("# A\n```\n# not a heading\n```\n## A\n")
	if !got["a"] || !got["a-1"] || got["not-a-heading"] {
		t.Errorf("markdownAnchors: %v", got)
	}
}
