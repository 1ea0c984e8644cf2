package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// tokenReview is a Kubernetes TokenReview endpoint
// (POST /apis/authentication.k8s.io/v1/tokenreviews) that knows one service
// account and its one token. Like the real API server it requires the
// bearer token to be a token it accepts, answers 201 with
// status.authenticated, and says false for any other token.
type tokenReview struct {
	namespace, name, uid string
	jwt                  string
}

func newTokenReview(namespace, name string) (*tokenReview, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	u := make([]byte, 16)
	_, _ = rand.Read(u)
	uid := hex.EncodeToString(u[:4]) + "-" + hex.EncodeToString(u[4:6]) + "-" + hex.EncodeToString(u[6:8]) + "-" + hex.EncodeToString(u[8:10]) + "-" + hex.EncodeToString(u[10:])
	now := time.Now()
	claims := map[string]any{
		"iss":                                    "kubernetes/serviceaccount",
		"sub":                                    "system:serviceaccount:" + namespace + ":" + name,
		"iat":                                    now.Unix(),
		"exp":                                    now.Add(24 * time.Hour).Unix(),
		"kubernetes.io/serviceaccount/namespace": namespace,
		"kubernetes.io/serviceaccount/service-account.name": name,
		"kubernetes.io/serviceaccount/service-account.uid":  uid,
		"kubernetes.io/serviceaccount/secret.name":          name + "-token",
	}
	jwt, err := signES256(key, claims)
	if err != nil {
		return nil, err
	}
	return &tokenReview{namespace: namespace, name: name, uid: uid, jwt: jwt}, nil
}

func signES256(key *ecdsa.PrivateKey, claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": "vaultdev"})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + enc.EncodeToString(sig), nil
}

type trRequest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Token     string   `json:"token"`
		Audiences []string `json:"audiences"`
	} `json:"spec"`
}

func (tr *tokenReview) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/apis/authentication.k8s.io/v1/tokenreviews" {
		status(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
		return
	}
	if strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") != tr.jwt {
		status(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return
	}
	var req trRequest
	// Like the API server, an empty kind and apiVersion are taken from the
	// endpoint; any other kind is refused.
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || (req.Kind != "" && req.Kind != "TokenReview") {
		status(w, http.StatusBadRequest, "BadRequest", "the body is not a TokenReview")
		return
	}
	resp := map[string]any{
		"apiVersion": "authentication.k8s.io/v1",
		"kind":       "TokenReview",
		"metadata":   map[string]any{"creationTimestamp": nil},
		"spec":       req.Spec,
	}
	if req.Spec.Token == tr.jwt {
		resp["status"] = map[string]any{
			"authenticated": true,
			"user": map[string]any{
				"username": "system:serviceaccount:" + tr.namespace + ":" + tr.name,
				"uid":      tr.uid,
				"groups":   []string{"system:serviceaccounts", "system:serviceaccounts:" + tr.namespace, "system:authenticated"},
			},
			"audiences": req.Spec.Audiences,
		}
	} else {
		resp["status"] = map[string]any{"user": map[string]any{}, "error": "[invalid bearer token, square/go-jose: error in cryptographic primitive]"}
	}
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(resp)
}

func status(w http.ResponseWriter, code int, reason, msg string) {
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": msg, "reason": reason, "code": code,
	})
}
