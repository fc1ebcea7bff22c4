// Package sdktransport holds the HTTP transport forgelink's AWS SDK
// clients use: the CLI's and the end-to-end tests'.
package sdktransport

import (
	"bytes"
	"io"
	"net/http"
)

// BufferedBodies hands rt each request body as an in-memory copy. It works
// around a client-side race (smithy-go v1.28.9, Go 1.26): the SDK closes
// the request body as soon as the response headers arrive, and if the
// transport has not yet finished its end-of-body check, the closed body
// makes it drop the connection under a 200 response ("use of closed
// network connection"). The SDK would then retry a create that already
// succeeded, and report ResourceAlreadyExistsException.
func BufferedBodies(rt http.RoundTripper) http.RoundTripper { return bufferedBodies{rt} }

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
