package setup

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// bindingAD binds sealed binding cookies to their use.
var bindingAD = []byte("forgelink/setup/binding/v1")

// errUnbound is a callback or confirmation in a browser that did not
// follow the set-up link: someone else's set-up, or a callback URL
// captured and replayed elsewhere.
var errUnbound = &errState{"this set-up was started in another browser: follow a new set-up link in the browser " +
	"that will complete it (set-up links bind to the browser that first follows them)"}

// bindingCookie names the cookie of one set-up: one per nonce, so that a
// browser can run several set-ups at once.
func bindingCookie(nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return "forgelink_setup_" + hex.EncodeToString(sum[:8])
}

// bind gives the browser following st's link a cookie that its callback
// and confirmation must bring back: HttpOnly, SameSite=Lax (sent on the
// provider's top-level redirect back, not on cross-site POSTs), scoped to
// /setup/ and to the state's lifetime.
func (s *Service) bind(w http.ResponseWriter, st state) {
	sealed := s.opts.Keyring.Seal([]byte(st.Nonce), bindingAD)
	maxAge := int(time.Unix(st.Expires, 0).Add(confirmTTL).Sub(s.opts.Now()) / time.Second)
	http.SetCookie(w, s.bindingCookie(st.Nonce, base64.RawURLEncoding.EncodeToString(sealed), maxAge))
}

func (s *Service) bindingCookie(nonce, value string, maxAge int) *http.Cookie {
	path, secure := "/setup/", false
	if u, err := url.Parse(s.opts.PublicURL); err == nil {
		path, secure = strings.TrimRight(u.Path, "/")+"/setup/", u.Scheme == "https"
	}
	return &http.Cookie{Name: bindingCookie(nonce), Value: value, Path: path, MaxAge: max(maxAge, 1),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

// checkBinding refuses a request whose browser does not hold the cookie
// bind gave for nonce.
func (s *Service) checkBinding(r *http.Request, nonce string) error {
	c, err := r.Cookie(bindingCookie(nonce))
	if err != nil || len(c.Value) > maxState {
		return errUnbound
	}
	sealed, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return errUnbound
	}
	plain, err := s.opts.Keyring.Open(sealed, bindingAD)
	if err != nil || subtle.ConstantTimeCompare(plain, []byte(nonce)) != 1 {
		return errUnbound
	}
	return nil
}
