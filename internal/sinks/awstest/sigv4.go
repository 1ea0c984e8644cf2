package awstest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	amzDateFormat = "20060102T150405Z"
	sigAlgorithm  = "AWS4-HMAC-SHA256"
	// maxSkew is how far the signing time may be from the server's time;
	// AWS answers "Signature expired" beyond 5 minutes.
	maxSkew = 5 * time.Minute
)

// authHeader is a parsed SigV4 Authorization header.
type authHeader struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

func parseAuthorization(v string) (authHeader, *apiError) {
	var a authHeader
	rest, ok := strings.CutPrefix(v, sigAlgorithm+" ")
	if !ok {
		return a, errorf("IncompleteSignatureException", "Authorization header requires the %s algorithm.", sigAlgorithm)
	}
	parts := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return a, errorf("IncompleteSignatureException", "Authorization header requires each component to be of the form key=value. Got %q.", strings.TrimSpace(p))
		}
		parts[k] = val
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if parts[k] == "" {
			return a, errorf("IncompleteSignatureException", "Authorization header requires '%s' parameter.", k)
		}
	}
	scope := strings.Split(parts["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return a, errorf("IncompleteSignatureException", "Credential should be scoped to a valid region, a valid service and end with aws4_request.")
	}
	a.accessKey, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	a.signedHeaders = strings.Split(parts["SignedHeaders"], ";")
	a.signature = parts["Signature"]
	return a, nil
}

// verify checks the request's SigV4 signature by signing a copy of it, made
// of exactly the headers the client says it signed, with the SDK's own
// signer and the server's credentials, and comparing the signatures.
func (s *Server) verify(r *http.Request, body []byte, service string) *apiError {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return errorf("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	a, aerr := parseAuthorization(authz)
	if aerr != nil {
		return aerr
	}
	if a.accessKey != s.cfg.AccessKey {
		return errorf("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	if r.Header.Get("X-Amz-Security-Token") != "" {
		// The server's credentials are long-term keys: no session token
		// belongs to them.
		return errorf("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	if a.region != s.cfg.Region {
		return errorf("InvalidSignatureException", "Credential should be scoped to a valid region. ")
	}
	if a.service != service {
		return errorf("InvalidSignatureException", "Credential should be scoped to correct service: '%s'. ", service)
	}
	signedAt, aerr := s.checkDate(a, r.Header.Get("X-Amz-Date"))
	if aerr != nil {
		return aerr
	}
	if !slices.Contains(a.signedHeaders, "host") {
		return errorf("InvalidSignatureException", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if !slices.Contains(a.signedHeaders, "x-amz-date") {
		return errorf("InvalidSignatureException", "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return errorf("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	return s.checkSignature(r, a, payloadHash, service, signedAt)
}

// checkDate parses the request's X-Amz-Date (amzDate) and checks it against
// the credential scope's date and the server's clock, within maxSkew.
func (s *Server) checkDate(a authHeader, amzDate string) (time.Time, *apiError) {
	signedAt, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return time.Time{}, errorf("IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if a.date != signedAt.Format("20060102") {
		return time.Time{}, errorf("InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", a.date, signedAt.Format("20060102"), amzDate)
	}
	now := s.now().UTC()
	if signedAt.Before(now.Add(-maxSkew)) {
		return time.Time{}, errorf("InvalidSignatureException", "Signature expired: %s is now earlier than %s (%s - 5 min.)", amzDate, now.Add(-maxSkew).Format(amzDateFormat), now.Format(amzDateFormat))
	}
	if signedAt.After(now.Add(maxSkew)) {
		return time.Time{}, errorf("InvalidSignatureException", "Signature not yet current: %s is still later than %s (%s + 5 min.)", amzDate, now.Add(maxSkew).Format(amzDateFormat), now.Format(amzDateFormat))
	}
	return signedAt, nil
}

// checkSignature signs a copy of r with the server's credentials and
// compares the result with the client's signature (a).
func (s *Server) checkSignature(r *http.Request, a authHeader, payloadHash, service string, signedAt time.Time) *apiError {
	// The copy carries only the headers listed as signed, so that the
	// signer's canonical request is the one the client built.
	cp, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return errorf("InvalidSignatureException", "The request signature we calculated does not match the signature you provided.")
	}
	cp.Host = r.Host
	for _, h := range a.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			cp.ContentLength = r.ContentLength
		default:
			vals := r.Header.Values(h)
			if len(vals) == 0 {
				return errorf("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
			}
			for _, v := range vals {
				cp.Header.Add(h, v)
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: s.cfg.AccessKey, SecretAccessKey: s.cfg.SecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, cp, payloadHash, service, s.cfg.Region, signedAt); err != nil {
		return errorf("InternalFailure", "signing failed")
	}
	want, perr := parseAuthorization(cp.Header.Get("Authorization"))
	if perr != nil ||
		strings.Join(want.signedHeaders, ";") != strings.Join(a.signedHeaders, ";") ||
		subtle.ConstantTimeCompare([]byte(want.signature), []byte(a.signature)) != 1 {
		return errorf("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}
