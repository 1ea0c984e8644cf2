package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeMaxLines is how long the README may grow: it must fit a screen or
// two; reference material belongs in docs/.
const readmeMaxLines = 160

// mdLink matches inline Markdown links and images: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// deadLinks returns the relative links of one Markdown file (path relative
// to the repository root) whose file does not exist, or whose #anchor is
// not a heading of the Markdown file it points at.
func deadLinks(root, file string) ([]string, error) {
	src, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		return nil, err
	}
	var dead []string
	inCode := false
	for i, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
		}
		if inCode {
			continue
		}
		for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if why := checkLink(root, file, target); why != "" {
				dead = append(dead, fmt.Sprintf("%s:%d: %s: %s", file, i+1, target, why))
			}
		}
	}
	return dead, nil
}

func checkLink(root, file, target string) string {
	path, frag, _ := strings.Cut(target, "#")
	dest := file
	if path != "" {
		dest = filepath.Join(filepath.Dir(file), path)
		if rel, err := filepath.Rel(root, filepath.Join(root, dest)); err != nil || strings.HasPrefix(rel, "..") {
			return "leaves the repository"
		}
		if _, err := os.Stat(filepath.Join(root, dest)); err != nil {
			return "no such file"
		}
	}
	if frag == "" {
		return ""
	}
	if !strings.HasSuffix(dest, ".md") {
		return "an anchor into a file that is not Markdown"
	}
	doc, err := os.ReadFile(filepath.Join(root, dest))
	if err != nil {
		return err.Error()
	}
	if !markdownAnchors(string(doc))[frag] {
		return fmt.Sprintf("%s has no heading with anchor #%s", dest, frag)
	}
	return ""
}

// TestDocsLinks checks every relative link of README.md and docs/*.md:
// the file exists and the #anchor is one of its headings.
func TestDocsLinks(t *testing.T) {
	root := repoRoot(t)
	files := []string{"README.md", "CHANGELOG.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		files = append(files, filepath.Join("docs", filepath.Base(d)))
	}
	for _, f := range files {
		dead, err := deadLinks(root, f)
		if err != nil {
			t.Error(err)
		}
		for _, d := range dead {
			t.Error("dead link " + d)
		}
	}
}

// TestDeadLinksAreFound proves the link check can fail.
func TestDeadLinksAreFound(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "README.md"), "# Top\n[ok](docs/a.md#usage) [self](#top) [gone](docs/b.md) [bad anchor](docs/a.md#nope) [up](../x.md)\n```\n[in code](nowhere.md)\n```\n")
	if err := os.Mkdir(filepath.Join(root, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "docs", "a.md"), "# A\n## Usage\n")
	dead, err := deadLinks(root, "README.md")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(dead, "\n")
	for _, want := range []string{"docs/b.md: no such file", "docs/a.md#nope: docs/a.md has no heading with anchor #nope", "../x.md: leaves the repository"} {
		if !strings.Contains(got, want) {
			t.Errorf("dead links %q lack %q", got, want)
		}
	}
	if len(dead) != 3 {
		t.Errorf("%d dead links, want 3: %q", len(dead), dead)
	}
}

// TestReadmeFitsAScreen keeps the README short: what rotator is, the two
// commands, the first real key, the guarantees and links.
func TestReadmeFitsAScreen(t *testing.T) {
	readme := readFile(t, filepath.Join(repoRoot(t), "README.md"))
	if n := strings.Count(strings.TrimRight(readme, "\n"), "\n") + 1; n > readmeMaxLines {
		t.Errorf("README.md has %d lines, at most %d: move reference material to docs/", n, readmeMaxLines)
	}
	for _, want := range []string{"go run ./cmd/rotator --demo", "./scripts/test"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md lacks the quick-start command %q", want)
		}
	}
}
