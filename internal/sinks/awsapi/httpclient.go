package awsapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// bodyCopyClient hands the transport its own copy of each request body.
// The SDK closes the request body as soon as the response headers arrive;
// on a fast endpoint the transport may still be finishing the write, take
// the closed body's io.EOF for a write error and close the connection under
// the response being read ("use of closed network connection",
// aws/aws-sdk-go-v2#2737; reproduced against awstest with responses over
// 4 KiB). Request bodies are small JSON documents.
type bodyCopyClient struct{ next aws.HTTPClient }

// NewBodyCopyClient wraps the client the SDK configured (with any CA
// bundle applied), or the SDK's default one when next is nil, so that the
// transport reads a copy of each request body. ClientOptions sets it as
// every AWS sink's service client's Options.HTTPClient.
func NewBodyCopyClient(next aws.HTTPClient) aws.HTTPClient {
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	return bodyCopyClient{next: next}
}

func (c bodyCopyClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, fmt.Errorf("buffer request body: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return c.next.Do(r)
}
