package providers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// VerifySHA256 checks a "sha256=<hex>" signature value, the HMAC-SHA256 of
// body, from the header named header (for messages), against each secret in
// constant time; any match succeeds, so secrets can overlap during a
// rotation. GitHub and Bitbucket Cloud both sign this way.
func VerifySHA256(header, value string, body []byte, secrets [][]byte) error {
	if value == "" {
		return fmt.Errorf("%w: no %s header", ErrMissingSignature, header)
	}
	hexSum, ok := strings.CutPrefix(value, "sha256=")
	if !ok {
		return fmt.Errorf("%w: %s lacks the \"sha256=\" prefix", ErrBadSignature, header)
	}
	sum, err := hex.DecodeString(hexSum)
	if err != nil || len(sum) != sha256.Size {
		return fmt.Errorf("%w: %s is not a hex SHA-256 digest", ErrBadSignature, header)
	}
	for _, secret := range secrets {
		// An empty secret is a configuration mistake, and anyone can
		// compute an HMAC with it.
		if len(secret) > 0 && hmac.Equal(sum, mac(secret, body)) {
			return nil
		}
	}
	return fmt.Errorf("%w: matches none of %d secrets", ErrBadSignature, len(secrets))
}

func mac(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}
