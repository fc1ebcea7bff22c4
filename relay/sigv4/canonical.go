package sigv4

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// canonicalRequest builds the SigV4 canonical request for r as signed by the
// AWS SDKs.
func canonicalRequest(r *http.Request, a *authorization, body []byte, payloadHash string) ([]byte, error) {
	query, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 512)
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = appendCanonicalURI(b, r.URL.EscapedPath())
	b = append(b, '\n')
	b = append(b, query...)
	b = append(b, '\n')
	for name := range strings.SplitSeq(a.signedHeaders, ";") {
		b = appendCanonicalHeader(b, r, name, len(body))
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, a.signedHeaders...)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	return b, nil
}

// appendCanonicalURI URI-encodes the path once more, starting from its
// on-the-wire (already escaped) form. That is what the SDK signers do for
// every service but S3; for this API the path is always "/".
func appendCanonicalURI(b []byte, escapedPath string) []byte {
	if escapedPath == "" {
		return append(b, '/')
	}
	for i := 0; i < len(escapedPath); i++ {
		c := escapedPath[i]
		if c == '/' || isUnreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', upperHex[c>>4], upperHex[c&0xf])
		}
	}
	return b
}

const upperHex = "0123456789ABCDEF"

// isUnreserved reports whether c is an RFC 3986 unreserved character, the
// only kind SigV4 leaves unescaped.
func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// canonicalQuery re-encodes the query string with SigV4 escaping, sorted by
// encoded name and then by encoded value.
func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return "", incomplete("The query string is malformed.")
	}
	type param struct{ name, value string }
	params := make([]param, 0, len(values))
	for name, vs := range values {
		name = escapeQuery(name)
		for _, v := range vs {
			params = append(params, param{name, escapeQuery(v)})
		}
	}
	slices.SortFunc(params, func(x, y param) int {
		return cmp.Or(strings.Compare(x.name, y.name), strings.Compare(x.value, y.value))
	})
	var sb strings.Builder
	for i, p := range params {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(p.name)
		sb.WriteByte('=')
		sb.WriteString(p.value)
	}
	return sb.String(), nil
}

// escapeQuery escapes like url.QueryEscape, except that SigV4 wants a space
// as "%20". QueryEscape turns a literal '+' into "%2B", so every '+' in its
// output stands for a space.
func escapeQuery(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// appendCanonicalHeader appends "name:value" for one signed header. Go's
// server moves Host out of r.Header, and Content-Length is taken from the
// body actually being verified.
func appendCanonicalHeader(b []byte, r *http.Request, name string, bodyLen int) []byte {
	b = append(b, name...)
	b = append(b, ':')
	switch name {
	case "host":
		return appendHeaderValue(b, r.Host)
	case "content-length":
		return strconv.AppendInt(b, int64(bodyLen), 10)
	}
	for i, v := range r.Header.Values(name) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHeaderValue(b, v)
	}
	return b
}

// appendHeaderValue appends v trimmed, with runs of spaces squeezed to one.
func appendHeaderValue(b []byte, v string) []byte {
	v = strings.TrimSpace(v)
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		b = append(b, v[i])
	}
	return b
}
