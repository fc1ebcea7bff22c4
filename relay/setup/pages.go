package setup

import (
	"bytes"
	"crypto/rand"
	"embed"
	"html/template"
	"net/http"
)

//go:embed templates/*.html
var templateFiles embed.FS

// pages are parsed once; html/template escapes every value by context.
var pages = template.Must(template.ParseFS(templateFiles, "templates/*.html"))

// detail is one labelled line of a result page.
type detail struct{ Label, Value string }

// page is what the templates show. Fields a template does not use stay
// empty.
type page struct {
	Title   string
	Message string
	Failed  bool
	Details []detail
	Console string
	Nonce   string // CSP nonce of the page's style and script

	// Form pages.
	Action      string // where the form posts
	Manifest    string // GitHub App manifest JSON
	State       string
	Provider    string // the provider's name or address, for the button and text
	RedirectURI string
	ClientID    string
	Error       string
	CSRF        string // the confirmation form's token
}

// render writes a page with headers that keep it, and the state in its
// URL, to itself: not cached, not framed, no Referer to the provider.
func (s *Service) render(w http.ResponseWriter, status int, name string, p page) {
	p.Console = s.consoleURL()
	p.Nonce = rand.Text()
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, p); err != nil {
		s.opts.Log.Error("render set-up page: " + err.Error())
		http.Error(w, "internal error; see the forgelink log", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+p.Nonce+"'; script-src 'nonce-"+p.Nonce+
		"'; base-uri 'none'; frame-ancestors 'none'")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// failure is a set-up step that failed; the page says why and that
// nothing changed.
type failure struct {
	status int
	title  string
	msg    string
}

func (f *failure) Error() string { return f.title + ": " + f.msg }

func fail(status int, title, msg string) *failure {
	return &failure{status: status, title: title, msg: msg}
}

func (s *Service) renderFailure(w http.ResponseWriter, f *failure) {
	s.render(w, f.status, "result", page{Title: f.title, Message: f.msg, Failed: true})
}

func (s *Service) renderDone(w http.ResponseWriter, title, msg string, details ...detail) {
	s.render(w, http.StatusOK, "result", page{Title: title, Message: msg, Details: details})
}
