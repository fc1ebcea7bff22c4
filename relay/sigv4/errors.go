package sigv4

import "net/http"

// AWS error codes reported by Verify, as AWS services spell them on the wire.
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
	CodeInvalidSignature           = "InvalidSignatureException"
)

// Error is an authentication failure. Code and Message are meant to be sent
// to the client verbatim; they never contain secrets or expected signatures.
type Error struct {
	Code    string // AWS error code, one of the Code constants
	Message string // human-readable explanation
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Status returns the HTTP status AWS uses for e.Code.
func (e *Error) Status() int {
	if e.Code == CodeInvalidSignature {
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// The constructors below return a fresh *Error each time, so a caller that
// modifies an error it received cannot affect later ones.

func missingToken() error {
	return &Error{Code: CodeMissingAuthenticationToken, Message: "Missing Authentication Token"}
}

func incomplete(msg string) error {
	return &Error{Code: CodeIncompleteSignature, Message: msg}
}

func unrecognizedClient() error {
	return &Error{Code: CodeUnrecognizedClient, Message: "The security token included in the request is invalid."}
}

func invalidSignature(msg string) error {
	return &Error{Code: CodeInvalidSignature, Message: msg}
}
