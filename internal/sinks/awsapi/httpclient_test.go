package awsapi_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

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
		require.NoError(t, orig.Close()) // the SDK, on the response headers
		b, err := io.ReadAll(r.Body)     // the transport, still writing
		if err != nil {
			return nil, err
		}
		sent = string(b)
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	}))
	req, err := http.NewRequest(http.MethodPost, "http://aws.test/", orig)
	require.NoError(t, err)
	_, err = c.Do(req)
	require.NoError(t, err)
	require.Equal(t, payload, sent)
}

func TestBodyCopyPassesEmptyBodiesAndReadErrors(t *testing.T) {
	var got []io.ReadCloser
	c := awsapi.NewBodyCopyClient(clientFunc(func(r *http.Request) (*http.Response, error) {
		got = append(got, r.Body)
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	}))
	get, err := http.NewRequest(http.MethodGet, "http://aws.test/", nil)
	require.NoError(t, err)
	_, err = c.Do(get)
	require.NoError(t, err)
	require.Nil(t, got[0], "no body: left alone")
	get.Body = http.NoBody
	_, err = c.Do(get)
	require.NoError(t, err)
	require.Equal(t, http.NoBody, got[1])

	broken := &closingBody{r: bytes.NewReader(nil), closed: true}
	req, err := http.NewRequest(http.MethodPost, "http://aws.test/", broken)
	require.NoError(t, err)
	_, err = c.Do(req)
	require.ErrorContains(t, err, "buffer request body: read on closed body")
	require.Len(t, got, 2, "nothing sent")
}

func TestBodyCopyDefaultsToTheSDKClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, r.Body)
	}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("echo"))
	require.NoError(t, err)
	resp, err := awsapi.NewBodyCopyClient(nil).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "echo", string(b))
}
