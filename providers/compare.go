package providers

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// ErrNoFileList: the provider cannot give the complete list of files
// changed between two commits, and asking again will not change that:
// there is nothing to compare (a created branch), the comparison is too
// large for its API, or it refuses (a commit or repository it does not
// know, a token it rejects). Errors of the providers' CompareFiles wrap it
// or ErrProviderUnavailable (the provider could not be asked now). Neither
// ever carries the token. A token answered 401 wraps ErrTokenRejected too:
// the connection's credential no longer works.
var ErrNoFileList = errors.New("no complete changed-file list")

// MaxCompareFiles bounds a changed-file list read from a compare API: a
// larger comparison wraps ErrNoFileList.
const MaxCompareFiles = 3000

// ZeroSHA is the commit id providers send for the side of a push where
// the ref did not exist: before, when it was created; after, when deleted.
const ZeroSHA = "0000000000000000000000000000000000000000"

// CheckCompare refuses a comparison there is nothing to compare for:
// before or after missing, or the zero id.
func CheckCompare(before, after string) error {
	if before == "" || after == "" || before == ZeroSHA || after == ZeroSHA {
		return fmt.Errorf("%w: the push has no previous or no new commit to compare", ErrNoFileList)
	}
	return nil
}

// CompareError classifies a failed compare call. status is the HTTP status
// of the provider's answer, 0 when none came; err is the client library's
// error. No answer (network, timeout, an undecodable body), a 5xx, 408 or
// 429 wraps ErrProviderUnavailable; any other status wraps ErrNoFileList,
// and 401 (the token refused) a *StatusError as well, which matches
// ErrTokenRejected. 403 does not: it may refuse one repository, or be a
// rate limit. A status is reported without the answer's body, which the
// libraries quote.
func CompareError(status int, err error) error {
	switch {
	case status == 0 || status < 300:
		return fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
	case status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests:
		return fmt.Errorf("%w: HTTP %d %s", ErrProviderUnavailable, status, http.StatusText(status))
	case status == http.StatusUnauthorized:
		return fmt.Errorf("%w: %w", ErrNoFileList, &StatusError{StatusCode: status})
	}
	return fmt.Errorf("%w: HTTP %d %s", ErrNoFileList, status, http.StatusText(status))
}

// Len returns how many paths f lists.
func (f ChangedFiles) Len() int {
	return len(f.Added) + len(f.Modified) + len(f.Removed)
}

// FileCollector builds the ChangedFiles of a comparison, one diff entry at
// a time.
type FileCollector struct {
	files ChangedFiles
}

// Add records one entry of a comparison. A rename is recorded as the
// removal of oldPath and the addition of newPath, as the webhook payloads
// list it. An empty path is not recorded.
func (c *FileCollector) Add(status, oldPath, newPath string) {
	add := func(l *[]string, path string) {
		if path != "" {
			*l = append(*l, path)
		}
	}
	switch status {
	case FileAdded:
		add(&c.files.Added, newPath)
	case FileRemoved:
		add(&c.files.Removed, oldPath)
	case FileRenamed:
		add(&c.files.Removed, oldPath)
		add(&c.files.Added, newPath)
	default:
		add(&c.files.Modified, cmp.Or(newPath, oldPath))
	}
}

// Len returns how many entries were added.
func (c *FileCollector) Len() int { return c.files.Len() }

// Files returns the collected lists, each sorted and without duplicates.
func (c *FileCollector) Files() ChangedFiles {
	f := c.files
	for _, l := range []*[]string{&f.Added, &f.Modified, &f.Removed} {
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	return f
}

// Kinds of change that FileCollector.Add tells apart; anything else is a
// modification.
const (
	FileAdded   = "added"
	FileRemoved = "removed"
	FileRenamed = "renamed"
)
