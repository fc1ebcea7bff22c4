package setup

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/relay/keyring"
)

func testKeyring(t testing.TB, b byte) *keyring.Keyring {
	t.Helper()
	k, err := keyring.New(bytes.Repeat([]byte{b}, keyring.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestStateRoundTrip(t *testing.T) {
	k := testKeyring(t, 1)
	s := &Service{opts: Options{Keyring: k}}
	want := state{Purpose: purposeConnection, Resource: "c1", Nonce: "N", Expires: 1700000000, Verifier: "v3rifier"}
	raw := s.sealState(want)
	if strings.Contains(raw, "v3rifier") || strings.ContainsAny(raw, "+/=") {
		t.Errorf("encoded state %q shows the verifier or is not URL-safe", raw)
	}
	got, err := decodeState(k, raw)
	if err != nil || got != want {
		t.Fatalf("decodeState = %+v, %v; want %+v", got, err, want)
	}
	// Another forgelink's key, or a value sealed for another use, does not open.
	if _, err := decodeState(testKeyring(t, 2), raw); err == nil {
		t.Error("a state opened under another master key")
	}
	other := base64.RawURLEncoding.EncodeToString(k.Seal([]byte(`{"p":"connection","r":"c1","n":"N","x":1}`), []byte("c1")))
	if _, err := decodeState(k, other); err == nil {
		t.Error("a value sealed under a record id opened as a state")
	}
	for _, bad := range []string{"", "!!!", strings.Repeat("A", maxState+1), raw[:len(raw)-1]} {
		if _, err := decodeState(k, bad); err == nil {
			t.Errorf("decodeState(%.20q) succeeded", bad)
		}
	}
}

func TestParseState(t *testing.T) {
	for _, tc := range []struct {
		plain string
		ok    bool
	}{
		{`{"p":"host","r":"h-1","n":"N","x":5}`, true},
		{`{"p":"github-app","r":"github-1","n":"N","x":5,"o":"octo"}`, true},
		{`{"p":"admin","r":"h-1","n":"N","x":5}`, false},
		{`{"p":"host","r":"","n":"N","x":5}`, false},
		{`{"p":"host","r":"h","n":"","x":5}`, false},
		{`{"p":"host","r":"h","n":"N","x":0}`, false},
		{`[]`, false},
		{`{"p":"host","r":"h","n":"N","x":"5"}`, false},
	} {
		if _, err := parseState([]byte(tc.plain)); (err == nil) != tc.ok {
			t.Errorf("parseState(%s): %v, want ok %v", tc.plain, err, tc.ok)
		}
	}
}

// FuzzDecodeState: whatever arrives as a state parameter, decoding fails
// cleanly or yields a state that is complete.
func FuzzDecodeState(f *testing.F) {
	k := testKeyring(f, 1)
	s := &Service{opts: Options{Keyring: k}}
	valid := s.sealState(state{Purpose: purposeHost, Resource: "h-1", Nonce: "N", Expires: 5})
	for _, seed := range []string{valid, valid[:len(valid)/2], "", "AAAA", "%%%", strings.Repeat("_", 300)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		st, err := decodeState(k, raw)
		if err != nil {
			return
		}
		if st.Resource == "" || st.Nonce == "" || st.Expires <= 0 {
			t.Errorf("decoded an incomplete state %+v", st)
		}
	})
}

// FuzzParseState: the opened payload is parsed defensively too (a bug
// or a key mix-up must not make a malformed state usable).
func FuzzParseState(f *testing.F) {
	for _, seed := range []string{
		`{"p":"connection","r":"c","n":"N","x":1,"v":"abc"}`, `{"p":"host"}`, `null`, `{"x":-1}`, `{"p":"host","r":"h","n":"N","x":1e30}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, plain []byte) {
		st, err := parseState(plain)
		if err != nil {
			return
		}
		switch st.Purpose {
		case purposeConnection, purposeHost, purposeGitHubApp:
		default:
			t.Errorf("parsed a state of purpose %q", st.Purpose)
		}
		if st.Resource == "" || st.Nonce == "" || st.Expires <= 0 {
			t.Errorf("parsed an incomplete state %+v", st)
		}
	})
}

// FuzzParsePending: an opened confirmation is complete and of one kind,
// or refused.
func FuzzParsePending(f *testing.F) {
	for _, seed := range []string{
		`{"n":"N","b":"B","t":"T","r":"c","x":5,"a":"octo","g":{"appId":1,"installationId":2}}`,
		`{"n":"N","b":"B","t":"T","r":"c","x":5,"a":"jdoe","o":{"s":{"access":"a"}}}`,
		`{"n":"N","b":"B","t":"T","r":"c","x":5,"g":{"appId":1,"installationId":2},"o":{"s":{}}}`,
		`{"n":"N","b":"B","t":"T","r":"c","x":5,"g":{"installationId":0}}`, `null`, `{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, plain []byte) {
		p, ok := parsePending(plain)
		if !ok {
			return
		}
		if p.Nonce == "" || p.Binding == "" || p.CSRF == "" || p.Conn == "" || p.Expires <= 0 {
			t.Errorf("parsed an incomplete confirmation %+v", p)
		}
		if (p.GitHub == nil) == (p.OAuth == nil) || (p.GitHub != nil && p.GitHub.InstallationID <= 0) {
			t.Errorf("parsed a confirmation of no single kind %+v", p)
		}
	})
}
