package controlplane

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/forgelink/forgelink/relay/sigv4"
	"github.com/forgelink/forgelink/store"
)

// Wire error codes. The modelled ones become typed errors in the AWS SDKs;
// the protocol-level ones (validation, serialization, authentication) become
// smithy.GenericAPIError with the same code.
const (
	codeValidation          = "ValidationException"
	codeSerialization       = "SerializationException"
	codeUnknownOperation    = "UnknownOperationException"
	codeNotFound            = "ResourceNotFoundException"
	codeAlreadyExists       = "ResourceAlreadyExistsException"
	codeLimitExceeded       = "LimitExceededException"
	codeUnavailable         = "ResourceUnavailableException"
	codeConflict            = "ConflictException"
	codeInvalidInput        = "InvalidInputException"
	codeUnsupportedOp       = "UnsupportedOperationException"
	codeUnsupportedProvider = "UnsupportedProviderTypeException"
	codeInternal            = "InternalServerException"
	codeAccessDenied        = "AccessDeniedException"
	codeThrottling          = "ThrottlingException"
	// codeConcurrentModification: a request lost a race on a resource
	// whose operation lists it (repository links).
	codeConcurrentModification = "ConcurrentModificationException"
	// codeConditionalCheckFailed: UpdateRepositoryLink's version check
	// failed, the one place the model names it.
	codeConditionalCheckFailed = "ConditionalCheckFailedException"
	// codeUnsupportedMediaType is what Smithy's servers answer (HTTP 415)
	// for a Content-Type the protocol does not use.
	codeUnsupportedMediaType = "UnsupportedMediaTypeException"
)

// maxMessage is the model's ErrorMessage limit.
const maxMessage = 600

// apiError is an error that goes out on the wire as {"__type","message"}.
type apiError struct {
	code   string
	status int
	msg    string
	// retryAfter, when set, goes out as x-amz-retry-after (milliseconds).
	retryAfter time.Duration
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func newError(code, format string, args ...any) *apiError {
	return &apiError{code: code, status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// validationError reports input that breaks a modelled constraint.
func validationError(format string, args ...any) *apiError {
	return newError(codeValidation, format, args...)
}

// resourceError ties a store error to the resource the caller named, so
// that the message speaks of the ARN the caller sent rather than internal ids.
type resourceError struct {
	resource string // e.g. "connection arn:aws:..."
	err      error
}

func (e *resourceError) Error() string { return e.resource + ": " + e.err.Error() }
func (e *resourceError) Unwrap() error { return e.err }

func onResource(resource string, err error) error {
	if err == nil {
		return nil
	}
	return &resourceError{resource: resource, err: err}
}

// storeErrors maps store sentinels to wire codes and the phrase that
// completes a message about a resource.
var storeErrors = []struct {
	sentinel error
	code     string
	phrase   string
}{
	{store.ErrNotFound, codeNotFound, "does not exist"},
	{store.ErrAlreadyExists, codeAlreadyExists, "already exists"},
	{store.ErrLimitExceeded, codeLimitExceeded, "would exceed a limit"},
	{store.ErrInUse, codeUnavailable, "is in use by one or more connections and cannot be deleted"},
	{store.ErrUnavailable, codeUnavailable, "is not AVAILABLE"},
	{store.ErrConflict, codeConcurrentModification, "was changed by another request while this one ran; read it again and retry"},
}

// toWire is the one place where errors become wire errors. Unknown errors
// are internal: their text stays in the log, never on the wire.
func toWire(err error) (e *apiError, internal bool) {
	if errors.As(err, &e) {
		return e, false
	}
	var home *homeRegionError
	if errors.As(err, &home) {
		return newError(codeInvalidInput, "%s", home.Error()), false
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		return &apiError{code: se.Code, status: se.Status(), msg: se.Message}, false
	}
	for _, m := range storeErrors {
		if !errors.Is(err, m.sentinel) {
			continue
		}
		msg := err.Error()
		var re *resourceError
		if errors.As(err, &re) {
			msg = re.resource + " " + m.phrase
		}
		return &apiError{code: m.code, status: http.StatusBadRequest, msg: msg}, false
	}
	return &apiError{code: codeInternal, status: http.StatusInternalServerError, msg: "internal error; see the forgelink log"}, true
}

func truncateMessage(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return s[:maxMessage-3] + "..."
}
