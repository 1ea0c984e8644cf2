package awsapi_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

// closingBody is a request body that fails every read once closed, as the
// body the SDK hands over does after the SDK closes it.
type closingBody struct {
	r      io.Reader
	closed bool
}

func (b *closingBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("read on closed body")
	}
	return b.r.Read(p)
}

func (b *closingBody) Close() error { b.closed = true; return nil }

// clientFunc is an aws.HTTPClient made of a function.
type clientFunc func(*http.Request) (*http.Response, error)

func (f clientFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// TestBodyCopySurvivesTheSDKClosingTheBody reproduces the order of events
// of aws/aws-sdk-go-v2#2737 without its race: the SDK closes the request
// body while the transport is still writing it.
func TestBodyCopySurvivesTheSDKClosingTheBody(t *testing.T) {
	const payload = `{"Name":"/prod/x","Value":"v"}`
	orig := &closingBody{r: strings.NewReader(payload)}
	var sent string
	c := awsapi.NewBodyCopyClient(clientFunc(func(r *http.Request) (*http.Response, error) {
		if err := orig.Close(); err != nil {
			t.Fatalf("orig.Close(): %v", err)
		} // the SDK, on the response headers
		b, err := io.ReadAll(r.Body) // the transport, still writing
		if err != nil {
			return nil, err
		}
		sent = string(b)
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	}))
	req, err := http.NewRequest(http.MethodPost, "http://aws.test/", orig)
	if err != nil {
		t.Fatalf("http.NewRequest: %v", err)
	}
	_, err = c.Do(req)
	if err != nil {
		t.Fatalf("c.Do: %v", err)
	}
	if sent != payload {
		t.Fatalf("sent = %q, want %q", sent, payload)
	}
}

func TestBodyCopyPassesEmptyBodiesAndReadErrors(t *testing.T) {
	var got []io.ReadCloser
	c := awsapi.NewBodyCopyClient(clientFunc(func(r *http.Request) (*http.Response, error) {
		got = append(got, r.Body)
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	}))
	get, err := http.NewRequest(http.MethodGet, "http://aws.test/", nil)
	if err != nil {
		t.Fatalf("http.NewRequest: %v", err)
	}
	_, err = c.Do(get)
	if err != nil {
		t.Fatalf("c.Do: %v", err)
	}
	if got[0] != nil {
		t.Fatalf("no body: left alone: got %v, want nil", got[0])
	}
	get.Body = http.NoBody
	_, err = c.Do(get)
	if err != nil {
		t.Fatalf("c.Do: %v", err)
	}
	if !reflect.DeepEqual(http.NoBody, got[1]) {
		t.Fatalf("got[1] = %+v, want %+v", got[1], http.NoBody)
	}

	broken := &closingBody{r: bytes.NewReader(nil), closed: true}
	req, err := http.NewRequest(http.MethodPost, "http://aws.test/", broken)
	if err != nil {
		t.Fatalf("http.NewRequest: %v", err)
	}
	_, err = c.Do(req)
	if err == nil || !strings.Contains(err.Error(), "buffer request body: read on closed body") {
		t.Fatalf("c.Do: got error %v, want one containing %q", err, "buffer request body: read on closed body")
	}
	if len(got) != 2 {
		t.Fatalf("nothing sent: len(got) = %d, want %d: %+v", len(got), 2, got)
	}
}

func TestBodyCopyDefaultsToTheSDKClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, r.Body)
	}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("echo"))
	if err != nil {
		t.Fatalf("http.NewRequest: %v", err)
	}
	resp, err := awsapi.NewBodyCopyClient(nil).Do(req)
	if err != nil {
		t.Fatalf("awsapi.NewBodyCopyClient(nil).Do: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("io.ReadAll: %v", err)
	}
	if string(b) != "echo" {
		t.Fatalf("string(b) = %q, want %q", string(b), "echo")
	}
}
