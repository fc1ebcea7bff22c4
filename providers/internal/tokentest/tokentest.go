// Package tokentest holds what the tests of the providers' CheckToken and
// CompareFiles functions share.
package tokentest

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/providers"
)

// Outcome renders a CheckToken result for comparison: the account, or the
// error's class, "rejected" or "unavailable", followed by the provider's
// HTTP status when it answered with one ("rejected 401"). It fails tb if
// the error shows token or is of neither class.
func Outcome(tb testing.TB, token, account string, err error) string {
	tb.Helper()
	if err == nil {
		return account
	}
	if strings.Contains(err.Error(), token) {
		tb.Errorf("error %q shows the token", err)
	}
	var class string
	switch rejected, unavailable := errors.Is(err, providers.ErrTokenRejected), errors.Is(err, providers.ErrProviderUnavailable); {
	case rejected && !unavailable:
		class = "rejected"
	case unavailable && !rejected:
		class = "unavailable"
	default:
		tb.Errorf("error %v: rejected %v, unavailable %v; want exactly one", err, rejected, unavailable)
		return err.Error()
	}
	var se *providers.StatusError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s %d", class, se.StatusCode)
	}
	return class
}

// CompareOutcome renders a CompareFiles result for comparison: the files
// as "+added ~modified -removed" in that order, each list sorted, or the
// error's class, "no list" ("rejected" when it is also
// providers.ErrTokenRejected) or "unavailable". It fails tb if the error
// shows token or is of neither class.
func CompareOutcome(tb testing.TB, token string, files providers.ChangedFiles, err error) string {
	tb.Helper()
	if err == nil {
		var out []string
		for _, l := range []struct {
			mark  string
			paths []string
		}{{"+", files.Added}, {"~", files.Modified}, {"-", files.Removed}} {
			for _, p := range l.paths {
				out = append(out, l.mark+p)
			}
		}
		return strings.Join(out, " ")
	}
	if strings.Contains(err.Error(), token) {
		tb.Errorf("error %q shows the token", err)
	}
	switch noList, unavailable := errors.Is(err, providers.ErrNoFileList), errors.Is(err, providers.ErrProviderUnavailable); {
	case noList && !unavailable && errors.Is(err, providers.ErrTokenRejected):
		return "rejected"
	case noList && !unavailable:
		return "no list"
	case unavailable && !noList:
		return "unavailable"
	default:
		tb.Errorf("error %v: no list %v, unavailable %v; want exactly one", err, noList, unavailable)
		return err.Error()
	}
}

// Answer starts a server that answers every request with status, header
// and body, and returns its URL.
func Answer(tb testing.TB, status int, header http.Header, body string) string {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// Unreachable returns the URL of a server that is no longer listening.
func Unreachable() string {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}
