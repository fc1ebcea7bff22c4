package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

const (
	algorithm  = "AWS4-HMAC-SHA256"
	terminator = "aws4_request"
	dateFormat = "20060102"
	timeFormat = "20060102T150405Z"
)

// authorization is a syntactically valid SigV4 Authorization header.
type authorization struct {
	accessKeyID string
	scope       scope
	// signedHeaders is kept as sent: it is validated here and then appears
	// verbatim in the canonical request.
	signedHeaders string
	signature     []byte
}

// scope is the credential scope minus its constant terminator.
type scope struct {
	date, region, service string
}

func (s scope) String() string {
	return s.date + "/" + s.region + "/" + s.service + "/" + terminator
}

// authParams holds the raw values of the Authorization header parameters.
type authParams struct {
	credential, signedHeaders, signature string
}

// parseAuthorization parses h, the value of an Authorization header.
func parseAuthorization(h string) (authorization, error) {
	alg, rest, _ := strings.Cut(h, " ")
	if alg != algorithm {
		return authorization{}, incomplete("Authorization header must use the " + algorithm + " algorithm.")
	}
	p, err := parseParams(rest)
	if err != nil {
		return authorization{}, err
	}
	var a authorization
	if a.accessKeyID, a.scope, err = parseCredential(p.credential); err != nil {
		return authorization{}, err
	}
	if err := checkSignedHeaders(p.signedHeaders); err != nil {
		return authorization{}, err
	}
	a.signedHeaders = p.signedHeaders
	if a.signature, err = parseSignature(p.signature); err != nil {
		return authorization{}, err
	}
	return a, nil
}

// parseParams splits "Credential=..., SignedHeaders=..., Signature=...".
// Unknown or repeated parameters are rejected rather than ignored so that a
// header has exactly one meaning.
func parseParams(s string) (authParams, error) {
	var p authParams
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return authParams{}, incomplete("Authorization header parameters must have the form name=value.")
		}
		dst := p.field(name)
		if dst == nil {
			return authParams{}, incomplete("Authorization header has an unknown parameter; only Credential, SignedHeaders and Signature are allowed.")
		}
		if *dst != "" {
			return authParams{}, incomplete("Authorization header repeats the '" + name + "' parameter.")
		}
		*dst = value
	}
	return p, p.checkComplete()
}

func (p *authParams) field(name string) *string {
	switch name {
	case "Credential":
		return &p.credential
	case "SignedHeaders":
		return &p.signedHeaders
	case "Signature":
		return &p.signature
	}
	return nil
}

func (p *authParams) checkComplete() error {
	switch {
	case p.credential == "":
		return incomplete("Authorization header requires 'Credential' parameter.")
	case p.signedHeaders == "":
		return incomplete("Authorization header requires 'SignedHeaders' parameter.")
	case p.signature == "":
		return incomplete("Authorization header requires 'Signature' parameter.")
	}
	return nil
}

// parseCredential parses "AKID/yyyymmdd/region/service/aws4_request".
func parseCredential(s string) (accessKeyID string, sc scope, err error) {
	parts := strings.Split(s, "/")
	if len(parts) != 5 || slices.Contains(parts, "") {
		return "", scope{}, incomplete("Credential must have the form <access key ID>/<yyyyMMdd>/<region>/<service>/" + terminator + ".")
	}
	if parts[4] != terminator {
		return "", scope{}, incomplete("Credential should be scoped with a valid terminator: '" + terminator + "'.")
	}
	if _, ok := parseTime(dateFormat, parts[1]); !ok {
		return "", scope{}, incomplete("Credential date must have the form yyyyMMdd.")
	}
	return parts[0], scope{date: parts[1], region: parts[2], service: parts[3]}, nil
}

// checkSignedHeaders requires a sorted, duplicate-free list of lowercase
// header names that covers host and x-amz-date, as SigV4 prescribes.
func checkSignedHeaders(s string) error {
	var prev string
	var host, date bool
	for name := range strings.SplitSeq(s, ";") {
		if !isLowerToken(name) {
			return incomplete("SignedHeaders must be lowercase header names separated by ';'.")
		}
		if prev != "" && name <= prev {
			return incomplete("SignedHeaders must be sorted and must not repeat a header.")
		}
		prev = name
		host = host || name == "host"
		date = date || name == "x-amz-date"
	}
	switch {
	case !host:
		return incomplete("SignedHeaders must include host.")
	case !date:
		return incomplete("SignedHeaders must include x-amz-date.")
	}
	return nil
}

// isLowerToken reports whether s is a non-empty HTTP header name (RFC 9110
// token) without uppercase letters.
func isLowerToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

func parseSignature(s string) ([]byte, error) {
	sig, err := hex.DecodeString(s)
	if err != nil || len(sig) != sha256.Size {
		return nil, incomplete("Signature must be 64 hexadecimal characters.")
	}
	return sig, nil
}

// parseTime parses s, which must be exactly in layout. The round trip
// matters: time.Parse alone also accepts, for example, fractional seconds.
func parseTime(layout, s string) (time.Time, bool) {
	t, err := time.Parse(layout, s)
	return t, err == nil && t.Format(layout) == s
}
