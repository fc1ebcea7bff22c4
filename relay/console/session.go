package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"
)

// sessionTTL is how long a sign-in lasts.
const sessionTTL = 12 * time.Hour

const (
	cookieName = "forgelink_console"
	// sessionAD binds sealed sessions to their use: no other value the
	// keyring sealed (a webhook secret, a token) opens as a session.
	sessionAD = "forgelink console session v1"
	// maxCookie bounds what is opened; a sealed session is ~250 bytes.
	maxCookie = 1024
)

// How a session was started.
const (
	kindKey  = "key"  // access key pair; Subject is the access key id
	kindLink = "link" // one-time login link
	kindOpen = "open" // console without sign-in
)

// session is what the cookie carries, sealed. The CSRF token lives in it,
// so a form's token is checked without any server-side state.
type session struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Subject string `json:"sub"`
	// Key is the access key whose permissions the session has: the one
	// it signed in with, or the one that made its login link. Empty for
	// an open console.
	Key     string `json:"key,omitempty"`
	Expires int64  `json:"exp"` // Unix seconds
	CSRF    string `json:"csrf"`
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// startSession signs the browser in: a fresh session (never one the
// browser brought, against session fixation) in a new cookie.
func (c *Console) startSession(w http.ResponseWriter, kind, subject, key string) session {
	s := session{
		ID:      randomHex(16),
		Kind:    kind,
		Subject: subject,
		Key:     key,
		Expires: c.opts.Now().Add(sessionTTL).Unix(),
		CSRF:    randomHex(32),
	}
	plain, _ := json.Marshal(s) // plain strings and an int: cannot fail
	sealed := c.opts.Keyring.Seal(plain, []byte(sessionAD))
	http.SetCookie(w, c.cookie(base64.RawURLEncoding.EncodeToString(sealed), int(sessionTTL/time.Second)))
	return s
}

func (c *Console) endSession(w http.ResponseWriter) {
	http.SetCookie(w, c.cookie("", -1))
}

func (c *Console) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     cookieName,
		Value:    value,
		Path:     c.base,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// session returns the request's valid session. A session also ends when
// what started it is gone: its access key (signed in with, or the maker
// of its login link) was removed from the configuration or lost the right
// to sign in, or the console is no longer open.
func (c *Console) session(r *http.Request) (session, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, false
	}
	s, ok := c.openSession(ck.Value)
	if !ok {
		return session{}, false
	}
	switch s.Kind {
	case kindKey, kindLink:
		ok = c.keyLive(s.Key)
	case kindOpen:
		ok = c.opts.Open
	default:
		ok = false
	}
	return s, ok
}

// keyLive reports whether key may still sign in. An open console, or one
// without Credentials (only login links sign in), has nothing to ask.
func (c *Console) keyLive(key string) bool {
	if c.opts.Open || c.opts.Credentials == nil {
		return true
	}
	_, ok := c.opts.Credentials(key)
	return ok
}

// openSession opens a cookie value: an unexpired session sealed by this
// daemon's keyring, or nothing.
func (c *Console) openSession(value string) (session, bool) {
	if len(value) > maxCookie {
		return session{}, false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return session{}, false
	}
	plain, err := c.opts.Keyring.Open(sealed, []byte(sessionAD))
	if err != nil {
		return session{}, false
	}
	var s session
	if json.Unmarshal(plain, &s) != nil || s.ID == "" || s.CSRF == "" || c.opts.Now().Unix() >= s.Expires {
		return session{}, false
	}
	return s, true
}

// validCSRF compares a form's token with the session's in constant time.
func validCSRF(s session, token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

// page wraps a GET handler that needs a session. Without one the browser
// goes to the login page, or, when the console is open, gets a session
// at once (its forms need a CSRF token too).
func (c *Console) page(h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.session(r)
		switch {
		case ok:
		case c.opts.Open:
			s = c.startSession(w, kindOpen, "", "")
		default:
			c.redirect(w, r, "login")
			return
		}
		h(w, r, s)
	}
}

// maxForm bounds a form body; the console's forms are a few fields.
const maxForm = 16 << 10

// action wraps a POST handler: it runs only with a session and that
// session's CSRF token in the form; otherwise nothing is done.
func (c *Console) action(h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		s, ok := c.session(r)
		if !ok {
			c.message(w, http.StatusForbidden, "Signed out", "Your session has ended; nothing was done.", "login")
			return
		}
		if err := r.ParseForm(); err != nil || !validCSRF(s, r.PostForm.Get("csrf")) {
			c.message(w, http.StatusForbidden, "Request refused", "The form's security token is missing or wrong; nothing was done. Reload the page and try again.", "")
			return
		}
		h(w, r, s)
	}
}
