package sdktransport

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// closingBody records whether the caller closed it.
type closingBody struct {
	io.Reader
	closed bool
}

func (c *closingBody) Close() error { c.closed = true; return nil }

func TestBufferedBodies(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, string(b))
	}))
	defer srv.Close()
	client := &http.Client{Transport: BufferedBodies(http.DefaultTransport)}

	body := &closingBody{Reader: strings.NewReader(`{"ConnectionName":"x"}`)}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The caller's body was read and closed before the request went out:
	// closing it again later cannot touch the transport's copy.
	if !body.closed || len(got) != 1 || got[0] != `{"ConnectionName":"x"}` {
		t.Errorf("server got %q, caller's body closed %v", got, body.closed)
	}
	if req.GetBody != nil {
		t.Error("the caller's request was modified")
	}

	resp, err = client.Get(srv.URL) // no body
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got) != 2 || got[1] != "" {
		t.Errorf("bodiless request: server got %q", got)
	}
}
