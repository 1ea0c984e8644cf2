// Package verify holds tests only: it checks the Kubernetes manifests
// (rendered by kustomize's own library, decoded strictly into the
// Kubernetes and prometheus-operator API types) and the Dockerfile (parsed
// by BuildKit's parser). It is a separate module so that these large
// dependencies stay out of the product's go.mod. Run it with
// `cd deploy/verify && go test ./...`.
package verify
