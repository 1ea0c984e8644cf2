# syntax=docker/dockerfile:1
#
# rotator container image: a static binary on distroless, non-root.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg REVISION=$(git rev-parse HEAD) -t rotator .
#   docker run --read-only -p 9102:9102 \
#     -v "$PWD/rotator.yaml:/etc/rotator/rotator.yaml:ro" \
#     -v "$PWD/credentials:/etc/rotator/credentials:ro" \
#     -v rotator-state:/var/lib/rotator rotator
#
# The policy must set `listen: ":9102"` (the default listens on loopback
# only) and `state: {path: /var/lib/rotator/state.db}`. The root filesystem
# can be read-only: the daemon writes only under /var/lib/rotator (and
# where file sinks point, which must be volumes too).
# Checked by deploy/dockerfile_test.go (no Docker daemon needed).

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
ARG REVISION=unknown
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
    -o /out/usr/local/bin/rotator ./cmd/rotator \
    && mkdir -p /out/var/lib/rotator /out/etc/rotator

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="rotator" \
      org.opencontainers.image.description="Rotates API keys on a schedule and writes them to Vault, AWS and files" \
      org.opencontainers.image.source="https://github.com/rotator-dev/rotator" \
      org.opencontainers.image.documentation="https://github.com/rotator-dev/rotator/blob/main/docs/deploying.md" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/usr/local/bin/rotator /usr/local/bin/rotator
# Owned by nonroot so that a fresh named volume mounted here is writable.
COPY --from=build --chown=65532:65532 /out/var/lib/rotator /var/lib/rotator
COPY --from=build /out/etc/rotator /etc/rotator
USER 65532:65532
WORKDIR /var/lib/rotator
VOLUME ["/var/lib/rotator"]
EXPOSE 9102
ENTRYPOINT ["/usr/local/bin/rotator"]
CMD ["--config", "/etc/rotator/rotator.yaml"]
