package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

const (
	linkPurpose = "console-login/" // followed by the access key id
	linkTTL     = 10 * time.Minute
	// linkTokenLen is the length of a link token: 32 random bytes in
	// unpadded base64url.
	linkTokenLen = 43
)

// LoginLink returns a single-use link that signs a browser in, valid for
// ten minutes, with the permissions of the access key that asks for it
// (policy.CallerOf), never more. The store keeps only the token's
// SHA-256, so a copy of the database holds no usable link; the key id
// rides in the link and in the nonce's purpose, so that a link whose key
// was changed names no nonce.
func (c *Console) LoginLink(ctx context.Context) (string, time.Time, error) {
	raw := make([]byte, 32)
	rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	key, _ := policy.CallerOf(ctx)
	if len(key) > maxKeyID {
		return "", time.Time{}, fmt.Errorf("create console login link: access key id of %d bytes", len(key))
	}
	expires := c.opts.Now().Add(linkTTL)
	if err := c.opts.Store.CreateNonce(ctx, nonceID(token), linkPurpose+key, expires); err != nil {
		return "", time.Time{}, fmt.Errorf("create console login link: %w", err)
	}
	link := c.public + "/console/login/" + token
	if key != "" {
		link += "?key=" + url.QueryEscape(key)
	}
	return link, expires, nil
}

// maxKeyID bounds an access key id in a login link (AWS's are 16 to 128
// characters).
const maxKeyID = 128

func nonceID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// validLinkToken tells a token LoginLink could have made, before the store
// is asked anything.
func validLinkToken(token string) bool {
	if len(token) != linkTokenLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(token)
	return err == nil
}

// loginWithLink uses a login link up and signs the browser in.
func (c *Console) loginWithLink(w http.ResponseWriter, r *http.Request) {
	token, key := r.PathValue("token"), r.URL.Query().Get("key")
	err := store.ErrNotFound
	if validLinkToken(token) && len(key) <= maxKeyID && c.keyLive(key) {
		err = c.opts.Store.ConsumeNonce(r.Context(), nonceID(token), linkPurpose+key, c.opts.Now())
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.opts.Log.Info("console login link refused: unknown, used or expired")
		c.message(w, http.StatusForbidden, "Login link not valid",
			"This login link is unknown, expired or already used: each link signs in once, within 10 minutes. Run `forgelink console-link` for a new one.", "login")
		return
	case err != nil:
		c.opts.Log.Error("console login link", zap.Error(err))
		c.message(w, http.StatusInternalServerError, "Sign-in failed", "The login link could not be checked; see the daemon's log.", "login")
		return
	}
	c.startSession(w, kindLink, strings.TrimSpace("console-link "+key), key)
	c.opts.Log.Info("console sign-in", zap.String("with", "login link"), zap.String("access_key_id", key))
	c.redirect(w, r, "")
}

type loginView struct {
	frame
	Keys  bool   // access key sign-in is offered
	Error string // why the last attempt failed
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.session(r); ok || c.opts.Open {
		c.redirect(w, r, "")
		return
	}
	c.render(w, http.StatusOK, "login.html", loginView{frame: c.frame("Sign in", session{}), Keys: c.opts.Credentials != nil})
}

// login signs in with an access key pair. A failure says only that the pair
// is wrong, not which half.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.message(w, http.StatusBadRequest, "Bad request", "The form could not be read.", "login")
		return
	}
	keyID := r.PostForm.Get("access_key_id")
	if !c.validKey(keyID, r.PostForm.Get("secret_access_key")) {
		c.opts.Log.Info("console sign-in refused", zap.String("access_key_id", keyID))
		c.render(w, http.StatusUnauthorized, "login.html", loginView{
			frame: c.frame("Sign in", session{}),
			Keys:  c.opts.Credentials != nil,
			Error: "Wrong access key id or secret access key.",
		})
		return
	}
	c.startSession(w, kindKey, keyID, keyID)
	c.opts.Log.Info("console sign-in", zap.String("access_key_id", keyID))
	c.redirect(w, r, "")
}

// validKey checks a key pair in constant time. The secrets are hashed
// first, so neither their lengths nor whether the key id exists shows in
// the time taken.
func (c *Console) validKey(keyID, secret string) bool {
	if c.opts.Credentials == nil || keyID == "" || secret == "" {
		return false
	}
	want, ok := c.opts.Credentials(keyID)
	got, expected := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(got[:], expected[:]) == 1 && ok && want != ""
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, _ session) {
	c.endSession(w)
	c.redirect(w, r, "login")
}
