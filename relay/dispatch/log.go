package dispatch

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
)

// maxLoggedOutput bounds the tail of a target's output in a log line.
const maxLoggedOutput = 512

// logAttempt logs a failed attempt at warn and a delivery gone dead at
// error, so that someone reading only the daemon's log learns that builds
// stopped triggering, and why. A dead delivery is reported as dead only once
// recorded: otherwise its lease expires and it is attempted again. Successes
// are logged at debug: one line per build is noise at info.
func (e *Engine) logAttempt(c completion, recorded bool) {
	r := c.result
	if r.State == store.DeliveryFiltered {
		return // logged by completeFiles
	}
	fields := []zap.Field{
		zap.String("pipeline", c.pipeline), zap.String("target", c.target.Name),
		zap.String("delivery", r.DeliveryID), zap.String("repository", c.repository),
		zap.Int("attempt", r.N),
	}
	if r.Error == "" {
		e.opts.Log.Debug("delivered", fields...)
		return
	}
	// The targets name themselves without credentials (origin only,
	// redacted URLs), so the error is safe to log.
	fields = append(fields, zap.String("error", r.Error))
	if r.StatusCode != 0 {
		fields = append(fields, zap.Int("status", r.StatusCode))
	}
	if r.ExitStatus != nil {
		fields = append(fields, zap.Int("exit_code", *r.ExitStatus))
	}
	if tail := outputTail(r.Output); tail != "" {
		fields = append(fields, zap.String("output", tail))
	}
	if r.State == store.DeliveryDead && recorded {
		e.opts.Log.Error("delivery dead: no more attempts", append(fields, zap.String("reason", c.final))...)
		return
	}
	if r.State == store.DeliveryPending {
		fields = append(fields, zap.Time("next_attempt", r.NextAttemptAt))
	}
	e.opts.Log.Warn("delivery attempt failed", fields...)
}

// outputTail is the end of a target's output (a response body, a
// program's stdout and stderr) fit for a log line. It is logged because
// it is what explains a failure (the compiler's error, the receiver's
// reason), and it is the same text GetDelivery already returns. A target
// can write anything, so it is bounded to maxLoggedOutput bytes (the end
// is what says why a program failed) and stripped of control characters,
// which could forge log lines or drive a terminal. forgelink gives a target
// no secret of its own; what a target prints is the operator's to keep out.
func outputTail(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r): // Cf: bidi overrides
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	s = strings.TrimSpace(s)
	if len(s) <= maxLoggedOutput {
		return s
	}
	cut := len(s) - maxLoggedOutput
	for cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut++
	}
	return "…" + s[cut:]
}
