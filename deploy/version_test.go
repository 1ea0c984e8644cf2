package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// semver is SemVer 2.0 with the leading v of a git tag.
var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// latestRelease is the newest released version in CHANGELOG.md (the first
// "## [X.Y.Z] - date" heading), as a tag.
func latestRelease(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+[^\]]*)\] - \d{4}-\d{2}-\d{2}$`).FindStringSubmatch(readFile(t, filepath.Join(repoRoot(t), "CHANGELOG.md")))
	if m == nil {
		t.Fatal("CHANGELOG.md has no released version (## [X.Y.Z] - YYYY-MM-DD)")
	}
	v := "v" + m[1]
	if !semver.MatchString(v) {
		t.Fatalf("CHANGELOG.md's latest version %q is not SemVer", m[1])
	}
	return v
}

// TestManifestsPinTheRelease: every shipped manifest runs the image of the
// latest release, by tag, never :latest; the Helm chart's appVersion and
// the overlay's remote base name the same release.
func TestManifestsPinTheRelease(t *testing.T) {
	root := repoRoot(t)
	want := latestRelease(t)
	image := regexp.MustCompile(`ghcr\.io/rotator-dev/rotator(?::(v[0-9][^\s"#` + "`" + `]*))?`)
	var files []string
	err := filepath.WalkDir(filepath.Join(root, "deploy"), func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir // test inputs, not shipped
		}
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The docs' commands and snippets name the same release.
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, docs...)
	pinned := 0
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		for i, line := range strings.Split(readFile(t, f), "\n") {
			l := strings.TrimSpace(line)
			if m := image.FindStringSubmatch(l); m != nil && (strings.HasPrefix(l, "image:") || m[1] != "" && strings.HasSuffix(f, ".md")) {
				pinned++
				if m[1] != want {
					t.Errorf("%s:%d: %q, want the image tag %s (the latest release in CHANGELOG.md)", rel, i+1, l, want)
				}
			}
			if strings.Contains(l, "rotator//deploy/") && !strings.HasPrefix(l, "#") && !strings.Contains(l, "?ref="+want) {
				t.Errorf("%s:%d: remote base %q, want ?ref=%s", rel, i+1, l, want)
			}
			if tag, ok := strings.CutPrefix(l, "newTag:"); ok && strings.Fields(tag)[0] != want {
				t.Errorf("%s:%d: %s, want newTag: %s", rel, i+1, l, want)
			}
		}
	}
	if pinned < 2 {
		t.Errorf("found %d image: lines naming ghcr.io/rotator-dev/rotator under deploy/, want the Deployment's and the CronJob's", pinned)
	}
	chart := readFile(t, filepath.Join("helm", "rotator", "Chart.yaml"))
	if !strings.Contains(chart, "\nappVersion: \""+want+"\"\n") {
		t.Errorf("deploy/helm/rotator/Chart.yaml: appVersion is not %q", want)
	}
}
