package verify

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// parseDockerfile parses with BuildKit's own parser and linter (what
// `docker build` runs), failing on any parser or lint warning.
func parseDockerfile(t testing.TB, src string) []instructions.Stage {
	t.Helper()
	res, err := parser.Parse(strings.NewReader(src))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile: parser warning: %s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, desc, url, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		t.Errorf("Dockerfile:%d: lint %s: %s", line, rule, msg)
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return stages
}

func TestDockerfile(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	checkDockerfile(t, string(src))
}

// checkDockerfile checks what the image promises: a static trimmed binary
// with version information, a distroless non-root final stage without a
// shell, exec-form ENTRYPOINT and CMD, OCI labels, a state folder the
// non-root user owns.
func checkDockerfile(t testing.TB, src string) {
	t.Helper()
	stages := parseDockerfile(t, src)
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a final stage", len(stages))
	}
	names := map[string]bool{}
	for _, s := range stages[:len(stages)-1] {
		names[s.Name] = true
	}

	// The build stage: a static, trimmed binary with version information.
	var build string
	for _, s := range stages[:len(stages)-1] {
		for _, c := range s.Commands {
			if r, ok := c.(*instructions.RunCommand); ok && strings.Contains(strings.Join(r.CmdLine, " "), "go build") {
				build = strings.Join(r.CmdLine, " ")
			}
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "-X main.revision=${REVISION}", "./cmd/rotator"} {
		if !strings.Contains(build, want) {
			t.Errorf("go build step %q lacks %q", build, want)
		}
	}

	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.BaseName, "gcr.io/distroless/static") || !strings.HasSuffix(final.BaseName, ":nonroot") {
		t.Errorf("final stage FROM %s, want distroless static :nonroot", final.BaseName)
	}
	var user string
	var entrypoint, cmd *instructions.ShellDependantCmdLine
	labels := map[string]string{}
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.RunCommand, *instructions.ShellCommand:
			t.Errorf("final stage runs %q: distroless has no shell", c.Name())
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entrypoint = &c.ShellDependantCmdLine
		case *instructions.CmdCommand:
			cmd = &c.ShellDependantCmdLine
		case *instructions.LabelCommand:
			for _, kv := range c.Labels {
				labels[kv.Key] = kv.Value
			}
		case *instructions.CopyCommand:
			if c.From != "" && !names[c.From] {
				t.Errorf("COPY --from=%s: no such stage", c.From)
			}
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u != "nonroot" && u != "65532" {
		t.Errorf("final USER %q, want nonroot (65532)", user)
	}
	if entrypoint == nil || entrypoint.PrependShell || !slices.Equal(entrypoint.CmdLine, []string{"/usr/local/bin/rotator"}) {
		t.Errorf("ENTRYPOINT %+v, want exec form [\"/usr/local/bin/rotator\"]", entrypoint)
	}
	if cmd == nil || cmd.PrependShell || !slices.Equal(cmd.CmdLine, []string{"--config", "/etc/rotator/rotator.yaml"}) {
		t.Errorf("CMD %+v, want exec form [\"--config\", \"/etc/rotator/rotator.yaml\"]", cmd)
	}
	for _, l := range []string{"title", "description", "source", "version", "revision"} {
		if labels["org.opencontainers.image."+l] == "" {
			t.Errorf("no LABEL org.opencontainers.image.%s", l)
		}
	}
	if !strings.Contains(src, "--chown=65532:65532 /out/var/lib/rotator /var/lib/rotator") {
		t.Errorf("/var/lib/rotator is not created owned by nonroot in the final stage")
	}
}

// TestDockerfileCheckCanFail feeds the checks a Dockerfile with the
// mistakes they exist for.
func TestDockerfileCheckCanFail(t *testing.T) {
	bad := "FROM golang:1.26 as build\nRUN go build -o /rotator ./cmd/rotator\n" +
		"FROM debian:12\nCOPY --from=builder /rotator /rotator\nRUN apt-get update\nENTRYPOINT /rotator\n"
	ft := &fakeT{}
	checkDockerfile(ft.wrap(t), bad)
	for _, want := range []string{"lint FromAsCasing", "lacks \"CGO_ENABLED=0\"", "lacks \"-trimpath\"",
		"want distroless static", "distroless has no shell", "want nonroot", "ENTRYPOINT", "CMD",
		"org.opencontainers.image.title", "COPY --from=builder: no such stage"} {
		if !strings.Contains(ft.errors, want) {
			t.Errorf("checks missed %q; reported:\n%s", want, ft.errors)
		}
	}
}
