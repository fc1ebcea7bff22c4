package providers

import (
	"strconv"
	"time"
)

// PushCommit is a commit as GitHub's and GitLab's push payloads both carry
// it, with exactly the members forgelink reads: decoding into it skips
// every other member without looking at its type.
type PushCommit struct {
	ID        string      `json:"id"`
	Message   string      `json:"message"`
	Timestamp LenientTime `json:"timestamp"`
	URL       string      `json:"url"`
	Author    struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"author"`
	Added    []string `json:"added"`
	Modified []string `json:"modified"`
	Removed  []string `json:"removed"`
}

// Normalise returns the commit in forgelink's terms.
func (c *PushCommit) Normalise() Commit {
	return Commit{
		ID:          c.ID,
		Message:     c.Message,
		AuthorName:  c.Author.Name,
		AuthorEmail: c.Author.Email,
		Timestamp:   time.Time(c.Timestamp),
		URL:         c.URL,
		Added:       c.Added,
		Modified:    c.Modified,
		Removed:     c.Removed,
	}
}

// timeLayouts are the date forms seen in payloads: RFC 3339 in most, and
// Rails' default form ("2024-01-24 16:27:40 UTC") in some of GitLab's.
var timeLayouts = [...]string{
	time.RFC3339,
	"2006-01-02 15:04:05 UTC",
	"2006-01-02 15:04:05 -0700",
}

// LenientTime is a date that decides nothing: a string in one of
// timeLayouts, or Unix seconds (milliseconds past the year 3000, as
// go-github reads them). Any other value decodes to the zero time instead
// of refusing a genuine delivery.
type LenientTime time.Time

// UnmarshalJSON never fails.
func (t *LenientTime) UnmarshalJSON(b []byte) error {
	if i, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		v := time.Unix(i, 0)
		if v.Year() > 3000 {
			v = time.UnixMilli(i)
		}
		*t = LenientTime(v.UTC())
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil // null, or not a string
	}
	s := string(b[1 : len(b)-1])
	for _, layout := range timeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			*t = LenientTime(v)
			return nil
		}
	}
	return nil
}
