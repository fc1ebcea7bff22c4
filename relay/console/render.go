package console

import (
	"bytes"
	"html/template"
	"net/http"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
)

// frame is what every page's header needs.
type frame struct {
	Base    string // the console's path, for links
	Title   string
	Subject string // who is signed in
	CSRF    string
	Logout  bool // show the log-out button
}

func (c *Console) frame(title string, s session) frame {
	return frame{Base: c.base, Title: title, Subject: s.Subject, CSRF: s.CSRF, Logout: s.Kind == kindKey || s.Kind == kindLink}
}

var templateFuncs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"clip": clip,
}

// maxShown bounds free text from providers and targets in a table cell.
const maxShown = 300

func clip(s string) string {
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// render executes a page into a buffer first, so that a template error
// answers 500 rather than half a page.
func (c *Console) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := c.pages.ExecuteTemplate(&buf, name, data); err != nil {
		c.opts.Log.Error("console page", zap.String("page", name), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type messageView struct {
	frame
	Text string
	Next string // console page the "continue" link leads to
}

// message answers with a short page explaining an outcome; next is the
// console page (relative to the console) to offer next.
func (c *Console) message(w http.ResponseWriter, status int, title, text, next string) {
	c.render(w, status, "message.html", messageView{frame: c.frame(title, session{}), Text: text, Next: c.base + next})
}
