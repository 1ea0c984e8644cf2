package verify

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// lintDockerfile runs every BuildKit lint rule, as `docker build --check`
// does, without a Docker daemon, and returns one line per finding.
func lintDockerfile(t testing.TB, dt []byte) []string {
	t.Helper()
	p := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	sm := llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", dt)
	sm.Definition = &llb.Definition{}
	res, err := dockerfile2llb.DockerfileLint(context.Background(), dt, dockerfile2llb.ConvertOpt{
		Config:    dockerui.Config{BuildPlatforms: []ocispecs.Platform{p}, TargetPlatforms: []ocispecs.Platform{p}},
		SourceMap: sm,
		// Never the network: base images resolve to a stub config.
		MetaResolver: offlineResolver{t: t},
	})
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	var out []string
	if res.Error != nil {
		out = append(out, "error: "+res.Error.Message)
	}
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil && len(w.Location.Ranges) > 0 {
			line = int(w.Location.Ranges[0].Start.Line)
		}
		out = append(out, w.RuleName+" (line "+itoa(line)+"): "+w.Detail)
	}
	return out
}

// offlineResolver answers image lookups with a minimal linux/amd64 image
// config, so that linting never reaches a registry.
type offlineResolver struct{ t testing.TB }

func (r offlineResolver) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	cfg := []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},"rootfs":{"type":"layers","diff_ids":[]}}`)
	return ref, digest.FromBytes(cfg), cfg, nil
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestDockerfileCheck(t *testing.T) {
	dt, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range lintDockerfile(t, dt) {
		t.Errorf("Dockerfile: %s", f)
	}
}

// TestDockerfileCheckFindsMistakes proves the lint runs its full rule set:
// rules that only the build-time converter applies (undefined variables,
// shell-form CMD) must report.
func TestDockerfileCheckFindsMistakes(t *testing.T) {
	got := strings.Join(lintDockerfile(t, []byte("FROM golang:1.26 AS build\nENV A=$UNDEFINED_THING\nFROM scratch\nCMD /rotator\n")), "\n")
	for _, want := range []string{"UndefinedVar", "JSONArgsRecommended"} {
		if !strings.Contains(got, want) {
			t.Errorf("lint missed %s; reported:\n%s", want, got)
		}
	}
}
