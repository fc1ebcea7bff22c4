// Package sigv4 verifies requests signed with AWS Signature Version 4, so
// that AWS SDKs and the AWS CLI can authenticate to forgelink.
//
// Only the Authorization header form of SigV4 is supported; presigned
// (query string) requests are rejected. As AWS requires, host, x-amz-date
// and every x-amz-* header present must be signed.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const defaultMaxSkew = 15 * time.Minute

// Verifier checks SigV4-signed requests. It is safe for concurrent use. It
// caches derived signing keys, so it must not be copied after first use.
type Verifier struct {
	Secret  func(accessKeyID string) (secret string, ok bool) // looks up a secret; ok=false for unknown keys
	Regions []string                                          // the regions served: the only ones accepted in the credential scope
	MaxSkew time.Duration                                     // 15 minutes if zero
	Now     func() time.Time                                  // time.Now if nil

	keys keyCache
}

// Verify checks r, whose body the caller has already read into body, against
// the signing name service (e.g. "codeconnections" or "codestar-connections").
// It returns the access key id on success. Failures are reported as *Error.
func (v *Verifier) Verify(r *http.Request, body []byte, service string) (accessKeyID string, err error) {
	a, err := authorizationOf(r)
	if err != nil {
		return "", err
	}
	amzDate, t, err := requestTime(r.Header)
	if err != nil {
		return "", err
	}
	// forgelink issues no session tokens, so any token is foreign.
	if r.Header.Get("X-Amz-Security-Token") != "" {
		return "", unrecognizedClient()
	}
	if err := checkAmzHeadersSigned(r.Header, a.signedHeaders); err != nil {
		return "", err
	}
	if err := v.checkScope(a.scope, amzDate, service); err != nil {
		return "", err
	}
	if err := v.checkSkew(t); err != nil {
		return "", err
	}
	secret, ok := v.Secret(a.accessKeyID)
	if !ok {
		return "", unrecognizedClient()
	}
	payloadHash, err := payloadHash(r.Header, body)
	if err != nil {
		return "", err
	}
	canonical, err := canonicalRequest(r, &a, body, payloadHash)
	if err != nil {
		return "", err
	}
	want := v.signature(secret, a.scope, amzDate, canonical)
	if subtle.ConstantTimeCompare(want, a.signature) != 1 {
		return "", invalidSignature("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return a.accessKeyID, nil
}

// ScopeRegion returns the region of r's credential scope, the region the
// request was signed for. It verifies nothing: call it on a request Verify
// accepted, or where nothing is verified (an unauthenticated daemon).
func ScopeRegion(r *http.Request) (string, bool) {
	a, err := authorizationOf(r)
	if err != nil {
		return "", false
	}
	return a.scope.region, true
}

func authorizationOf(r *http.Request) (authorization, error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		if q := r.URL.Query(); q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Signature") {
			return authorization{}, incomplete("Presigned (query string) requests are not supported; sign the Authorization header instead.")
		}
		return authorization{}, missingToken()
	case 1:
		return parseAuthorization(values[0])
	}
	return authorization{}, incomplete("Only one Authorization header is allowed.")
}

// checkAmzHeadersSigned requires every x-amz-* header of the request to be
// signed, as AWS does: an unsigned one (X-Amz-Target, say) could be
// changed in transit without breaking the signature.
func checkAmzHeadersSigned(h http.Header, signedHeaders string) error {
	for name := range h {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "x-amz-") && !isSigned(signedHeaders, lower) {
			return invalidSignature("'" + name + "' must be a signed header.")
		}
	}
	return nil
}

// isSigned reports whether name is one of the ';'-separated signedHeaders.
func isSigned(signedHeaders, name string) bool {
	for s := range strings.SplitSeq(signedHeaders, ";") {
		if s == name {
			return true
		}
	}
	return false
}

// requestTime returns the X-Amz-Date header both as sent, which is what goes
// into the string to sign, and parsed.
func requestTime(h http.Header) (string, time.Time, error) {
	values := h.Values("X-Amz-Date")
	if len(values) != 1 {
		return "", time.Time{}, incomplete("Authorization header requires exactly one 'X-Amz-Date' header.")
	}
	t, ok := parseTime(timeFormat, values[0])
	if !ok {
		return "", time.Time{}, incomplete("X-Amz-Date must have the form yyyyMMddTHHmmssZ.")
	}
	return values[0], t, nil
}

func (v *Verifier) checkScope(sc scope, amzDate, service string) error {
	switch {
	case sc.service != service:
		return invalidSignature("Credential should be scoped to correct service: '" + service + "'.")
	case !slices.Contains(v.Regions, sc.region):
		// AWS's answer to a signature for a region its endpoint does not serve.
		return invalidSignature("Credential should be scoped to a valid region.")
	case sc.date != amzDate[:len(dateFormat)]:
		return invalidSignature(fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			sc.date, amzDate[:len(dateFormat)], amzDate))
	}
	return nil
}

// checkSkew bounds how long a captured request can be replayed.
func (v *Verifier) checkSkew(t time.Time) error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	n := now().UTC()
	skew := v.MaxSkew
	if skew == 0 {
		skew = defaultMaxSkew
	}
	switch {
	case t.Before(n.Add(-skew)):
		return invalidSignature(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s)",
			t.Format(timeFormat), n.Add(-skew).Format(timeFormat), n.Format(timeFormat), formatSkew(skew)))
	case t.After(n.Add(skew)):
		return invalidSignature(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s)",
			t.Format(timeFormat), n.Add(skew).Format(timeFormat), n.Format(timeFormat), formatSkew(skew)))
	}
	return nil
}

// formatSkew renders d as AWS does ("15 min.") when it is whole minutes.
func formatSkew(d time.Duration) string {
	if d%time.Minute != 0 {
		return d.String()
	}
	return strconv.FormatInt(int64(d/time.Minute), 10) + " min."
}

// payloadHash returns the hex SHA-256 of body. A client-supplied
// X-Amz-Content-Sha256 must agree with it; the computed value is what is
// signed either way, so the header cannot vouch for a different body.
func payloadHash(h http.Header, body []byte) (string, error) {
	sum := sha256.Sum256(body)
	computed := hex.EncodeToString(sum[:])
	if claimed := h.Values("X-Amz-Content-Sha256"); claimed != nil && (len(claimed) != 1 || claimed[0] != computed) {
		return "", invalidSignature("The provided 'X-Amz-Content-Sha256' header does not match what was computed.")
	}
	return computed, nil
}

// signature computes the expected signature of a canonical request.
func (v *Verifier) signature(secret string, sc scope, amzDate string, canonical []byte) []byte {
	sum := sha256.Sum256(canonical)
	key := v.keys.get(secret, sc)
	sts := make([]byte, 0, 160)
	sts = append(sts, algorithm+"\n"...)
	sts = append(sts, amzDate...)
	sts = append(sts, '\n')
	sts = append(sts, sc.String()...)
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, sum[:])
	mac := hmac.New(sha256.New, key[:])
	mac.Write(sts)
	return mac.Sum(nil)
}
