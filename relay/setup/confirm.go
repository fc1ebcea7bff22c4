package setup

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// confirmTTL is how long the confirmation page of a verified set-up can
// be sent.
const confirmTTL = 10 * time.Minute

// purposeConfirm is the nonce purpose of a confirmation page.
const purposeConfirm = "confirm"

// ActionUpdateInstallation is what the access key that made a set-up link
// must be allowed on the connection for the set-up to complete.
const ActionUpdateInstallation = "codeconnections:UpdateConnectionInstallation"

// KeyInstallationID is the condition key that names the GitHub App
// installation a set-up binds.
const KeyInstallationID = "codeconnections:InstallationId"

// pendingAD binds sealed pending set-ups to their use.
var pendingAD = []byte("forgelink/setup/pending/v1")

// pending is a connection set-up the provider has verified, waiting for
// the operator to confirm the account it names. It travels sealed in the
// confirmation form (it may hold OAuth tokens, which the keyring keeps
// confidential); the store keeps only its single-use nonce.
type pending struct {
	Nonce   string               `json:"n"`
	Binding string               `json:"b"` // the state's nonce: its binding cookie must come back
	CSRF    string               `json:"t"`
	Creator string               `json:"c,omitempty"`
	Conn    string               `json:"r"`
	Expires int64                `json:"x"`
	Account string               `json:"a"`
	GitHub  *installationRef     `json:"g,omitempty"`
	OAuth   *pendingOAuthSession `json:"o,omitempty"`
}

type pendingOAuthSession struct {
	Secret    oauthSecret `json:"s"`
	ExpiresAt time.Time   `json:"x,omitzero"` // zero: the provider did not say
}

// renderConfirm shows the account the provider verified and asks the
// operator to confirm it: until the confirmation is posted, nothing but
// the page's nonce is stored and the connection stays as it was.
func (s *Service) renderConfirm(ctx context.Context, w http.ResponseWriter, st state, conn store.Connection, p pending, what string) error {
	expires := s.opts.Now().Add(confirmTTL)
	p.Nonce, p.Binding, p.CSRF, p.Creator, p.Conn, p.Expires = rand.Text(), st.Nonce, rand.Text(), st.Creator, conn.ID, expires.Unix()
	if err := s.opts.Store.CreateNonce(ctx, p.Nonce, purposeConfirm, expires); err != nil {
		return fmt.Errorf("confirmation: %w", err)
	}
	plain, _ := json.Marshal(p) // strings, numbers and nested structs of them: cannot fail
	details := []detail{{"Connection", conn.Name}, {"Account", p.Account}}
	if p.GitHub != nil {
		details = append(details, detail{"Installation", strconv.FormatInt(p.GitHub.InstallationID, 10)})
	}
	if p.Creator != "" {
		details = append(details, detail{"Set-up link made by access key", p.Creator})
	}
	s.render(w, http.StatusOK, "confirm", page{
		Title:   "Confirm the account",
		Message: what + " Confirm only if you started this set-up and " + p.Account + " is the account this connection is for: its builds will get tokens for that account's repositories.",
		Details: details,
		Action:  s.url("/setup/confirm"),
		State:   base64.RawURLEncoding.EncodeToString(s.opts.Keyring.Seal(plain, pendingAD)),
		CSRF:    p.CSRF,
	})
	return nil
}

// confirm completes a verified set-up: the browser that followed the link
// posts the confirmation form with its token.
func (s *Service) confirm(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	p, err := s.openPending(r.PostFormValue("pending"))
	if err != nil {
		return err
	}
	if err := s.checkBinding(r, p.Binding); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(p.CSRF)) != 1 {
		return errForged
	}
	conn, err := s.opts.Store.GetConnection(ctx, p.Conn)
	if err != nil {
		return err
	}
	var installationID int64
	if p.GitHub != nil {
		installationID = p.GitHub.InstallationID
	}
	if err := s.authorizeCreator(ctx, p.Creator, conn, installationID); err != nil {
		return err
	}
	if p.GitHub != nil {
		if err := s.checkUnshared(ctx, conn, *p.GitHub); err != nil {
			return err
		}
	}
	if err := s.consumeNonce(ctx, p.Nonce, purposeConfirm); err != nil {
		return err
	}
	if p.GitHub != nil {
		err = s.completeInstallation(ctx, conn, *p.GitHub, p.Account)
	} else {
		err = s.completeOAuth(ctx, conn, p)
	}
	if err != nil {
		return err
	}
	s.renderDone(w, "Connection AVAILABLE", "The account is confirmed: the connection is AVAILABLE and its held events are released.",
		detail{"Connection", conn.Name}, detail{"Account", p.Account})
	return nil
}

// openPending opens a confirmation form's pending set-up.
func (s *Service) openPending(raw string) (pending, error) {
	if raw == "" || len(raw) > maxForm {
		return pending{}, errForged
	}
	sealed, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return pending{}, errForged
	}
	plain, err := s.opts.Keyring.Open(sealed, pendingAD)
	if err != nil {
		return pending{}, errForged
	}
	p, ok := parsePending(plain)
	if !ok {
		return pending{}, errForged
	}
	if !s.opts.Now().Before(time.Unix(p.Expires, 0)) {
		return pending{}, &errState{"this confirmation page has expired (10 minutes): start the set-up again"}
	}
	return p, nil
}

// parsePending decodes an opened pending set-up and checks its shape: a
// bug or a key mix-up must not make a malformed one usable.
func parsePending(plain []byte) (pending, bool) {
	var p pending
	if json.Unmarshal(plain, &p) != nil || p.Nonce == "" || p.Binding == "" || p.CSRF == "" || p.Conn == "" || p.Expires <= 0 ||
		(p.GitHub == nil) == (p.OAuth == nil) || (p.GitHub != nil && p.GitHub.InstallationID <= 0) {
		return pending{}, false
	}
	return p, true
}

// authorizeCreator checks that the access key that made the set-up link
// may complete it: codeconnections:UpdateConnectionInstallation on the
// connection (with the installation id, for GitHub). Without an
// Authorizer (a daemon without access keys) anything goes; with one, a
// link no key made is refused.
func (s *Service) authorizeCreator(ctx context.Context, creator string, conn store.Connection, installationID int64) error {
	req := policy.Request{Action: ActionUpdateInstallation, Resource: s.connectionARN(conn)}
	if installationID != 0 {
		req.Context = policy.Context{KeyInstallationID: {strconv.FormatInt(installationID, 10)}}
	}
	return s.authorizeLink(ctx, creator, req, store.ResourceRef{Kind: store.KindConnection, ID: conn.ID})
}

// authorizeLink checks that the access key that made a set-up link may do
// req; a refusal is a 403 page naming key, action and resource. The
// stored tags of res (none when its id is empty) are the request's
// aws:ResourceTag/<key>, as the control plane gives them.
func (s *Service) authorizeLink(ctx context.Context, creator string, req policy.Request, res store.ResourceRef) error {
	if s.opts.Authorizer == nil {
		return nil
	}
	if res.ID != "" {
		tags, err := s.opts.Store.ListTags(ctx, res)
		if err != nil {
			return fmt.Errorf("tags of %s: %w", req.Resource, err)
		}
		if len(tags) > 0 {
			c := make(policy.Context, len(req.Context)+len(tags))
			maps.Copy(c, req.Context)
			for _, t := range tags {
				c[policy.KeyResourceTagPrefix+t.Key] = []string{t.Value}
			}
			req.Context = c
		}
	}
	if d := s.opts.Authorizer.Authorize(creator, req); d != policy.Allowed {
		return fail(http.StatusForbidden, "Not allowed",
			fmt.Sprintf("the access key %q that made this set-up link is %s %s on %s", creator, d, req.Action, req.Resource))
	}
	return nil
}

// connectionARN names conn as the control plane does.
func (s *Service) connectionARN(conn store.Connection) string {
	return conn.ARN(s.opts.AccountID)
}

// checkUnshared refuses an installation that completes another live
// connection of the same GitHub (github.com, or the same GHES host),
// unless the operator allows sharing: one installation, one connection.
// Setting the same connection up again is fine.
func (s *Service) checkUnshared(ctx context.Context, conn store.Connection, ref installationRef) error {
	if s.opts.AllowSharedInstallations {
		return nil
	}
	others, err := s.opts.Store.ConnectionsByInstallation(ctx, ref.AppID, ref.InstallationID)
	if err != nil {
		return fmt.Errorf("connections of installation %d: %w", ref.InstallationID, err)
	}
	for _, o := range others {
		if o.ID != conn.ID && o.HostID == conn.HostID && o.ProviderType == conn.ProviderType {
			return fail(http.StatusConflict, "Installation already in use",
				fmt.Sprintf("GitHub App installation %d already completes the connection %s; one installation completes one connection "+
					"(an operator can allow sharing with providers.allowSharedInstallations)", ref.InstallationID, o.Name))
		}
	}
	return nil
}
