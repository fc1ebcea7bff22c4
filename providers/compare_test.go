package providers

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestCompareError(t *testing.T) {
	lib := errors.New("library error")
	for _, tc := range []struct {
		status int
		want   error
	}{
		{0, ErrProviderUnavailable},   // no answer
		{200, ErrProviderUnavailable}, // an answer that did not decode
		{301, ErrNoFileList},          // a renamed repository: not followed
		{401, ErrNoFileList},
		{403, ErrNoFileList},
		{404, ErrNoFileList},
		{408, ErrProviderUnavailable},
		{422, ErrNoFileList},
		{429, ErrProviderUnavailable},
		{500, ErrProviderUnavailable},
		{503, ErrProviderUnavailable},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			err := CompareError(tc.status, lib)
			other := ErrNoFileList
			if tc.want == ErrNoFileList {
				other = ErrProviderUnavailable
			}
			if !errors.Is(err, tc.want) || errors.Is(err, other) {
				t.Errorf("CompareError(%d) = %v, want %v", tc.status, err, tc.want)
			}
			// Only 401 says the token itself is refused.
			if rejected := errors.Is(err, ErrTokenRejected); rejected != (tc.status == 401) {
				t.Errorf("CompareError(%d) = %v: token rejected %v", tc.status, err, rejected)
			}
		})
	}
}

func TestCheckCompare(t *testing.T) {
	const a, b = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"
	for _, tc := range []struct {
		before, after string
		ok            bool
	}{
		{a, b, true},
		{ZeroSHA, b, false}, // created
		{a, ZeroSHA, false}, // deleted
		{"", b, false},
		{a, "", false},
	} {
		if err := CheckCompare(tc.before, tc.after); (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrNoFileList) {
			t.Errorf("CheckCompare(%q, %q) = %v, want ok %v", tc.before, tc.after, err, tc.ok)
		}
	}
}

func TestFileCollector(t *testing.T) {
	var c FileCollector
	c.Add(FileAdded, "", "b.go")
	c.Add(FileAdded, "", "a.go")
	c.Add("modified", "m.go", "m.go")
	c.Add(FileRemoved, "gone.go", "")
	c.Add(FileRenamed, "old/x.go", "new/x.go")
	c.Add("remote deleted", "r.go", "") // a status without a new side
	c.Add(FileAdded, "", "a.go")        // listed twice
	c.Add(FileRenamed, "", "n.go")      // a rename without its old path
	want := ChangedFiles{
		Added:    []string{"a.go", "b.go", "n.go", "new/x.go"},
		Modified: []string{"m.go", "r.go"},
		Removed:  []string{"gone.go", "old/x.go"},
	}
	if got := c.Files(); !reflect.DeepEqual(got, want) {
		t.Errorf("Files() = %+v\nwant %+v", got, want)
	}
	if got := want.Len(); got != 8 {
		t.Errorf("Len() = %d, want 8", got)
	}
}
