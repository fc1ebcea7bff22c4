package ingress

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"time"
	"unicode/utf8"
)

// firstChunk is the first buffer of a body: most deliveries fit in it.
const firstChunk = 32 << 10

// readBody refuses an oversized body and anything but JSON, then reads
// the body into a buffer that grows with what arrives (doubling, never
// beyond the announced length or the limit), reserving each growth from
// the budget before allocating it. An announced length is only a bound:
// a sender that announces 25 MiB and sends 1 KiB costs 32 KiB.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, res *reservation) ([]byte, error) {
	if r.ContentLength > h.opts.MaxBody {
		return nil, refuse(http.StatusRequestEntityTooLarge, outcomeTooLarge, "body of %d bytes exceeds the %d-byte limit", r.ContentLength, h.opts.MaxBody)
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return nil, refuse(http.StatusBadRequest, outcomeMalformed, "content type %q: want application/json (set the webhook's content type to JSON)", r.Header.Get("Content-Type"))
	}
	// Past the body, the deadline would only cancel the request's
	// context while the event is being recorded.
	defer http.NewResponseController(w).SetReadDeadline(time.Time{})
	limit := h.opts.MaxBody
	if r.ContentLength >= 0 {
		limit = r.ContentLength // net/http never reads past it
	}
	body, err := readLimited(r.Body, limit, res)
	if err != nil {
		return nil, err
	}
	// JSON is UTF-8 (RFC 8259); refusing anything else also keeps every
	// stored body representable, byte for byte, in API answers.
	if !utf8.Valid(body) {
		return nil, refuse(http.StatusBadRequest, outcomeMalformed, "body is not valid UTF-8 JSON")
	}
	return body, nil
}

// readLimited reads src to its end into a buffer of at most limit bytes;
// more than limit is a 413.
func readLimited(src io.Reader, limit int64, res *reservation) ([]byte, error) {
	var buf []byte
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) == limit {
				return buf, endOfBody(src, limit)
			}
			size := min(max(2*int64(cap(buf)), firstChunk), limit)
			if reason := res.resize(size); reason != "" {
				return nil, shed(reason)
			}
			grown := make([]byte, len(buf), size)
			copy(grown, buf)
			buf = grown
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return nil, readError(err)
		}
	}
}

// endOfBody checks that a body that filled the limit has ended.
func endOfBody(src io.Reader, limit int64) error {
	var one [1]byte
	n, err := io.ReadFull(src, one[:])
	switch {
	case n > 0:
		return refuse(http.StatusRequestEntityTooLarge, outcomeTooLarge, "body exceeds the %d-byte limit", limit)
	case err == io.EOF:
		return nil
	}
	return readError(err)
}

func readError(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return &refusal{status: http.StatusRequestTimeout, outcome: outcomeTimeout, shed: shedTimeout,
			reason: "the body did not arrive in time"}
	}
	return refuse(http.StatusBadRequest, outcomeMalformed, "read body: %v", err)
}
