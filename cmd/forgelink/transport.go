package main

import (
	"bytes"
	"io"
	"net/http"
)

// bufferedBodies hands the transport a request body it owns. The AWS SDK
// (smithy-go v1.28) closes the request body as soon as response headers
// arrive; with Go 1.26's transport still finishing its end-of-body check,
// the closed body makes it drop the connection under a 200 response ("use of
// closed network connection"), and the SDK then retries a create that
// already succeeded, reporting ResourceAlreadyExistsException.
type bufferedBodies struct{ rt http.RoundTripper }

func (b bufferedBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return b.rt.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return b.rt.RoundTrip(r)
}
