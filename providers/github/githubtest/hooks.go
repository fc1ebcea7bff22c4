package githubtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Hook is a repository webhook as the server stores it, secret included.
type Hook struct {
	ID          int64
	Name        string // "web"
	Active      bool
	Events      []string
	URL         string
	ContentType string // "json" or "form"
	InsecureSSL string // "0" or "1"
	Secret      string
}

// AddHook stores h on repository fullName (created if need be) as it is,
// duplicates allowed, giving it an id if it has none, and returns it.
func (s *Server) AddHook(fullName string, h Hook) Hook {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.ID == 0 {
		h.ID = s.id()
	}
	h.Events = slices.Clone(h.Events)
	s.repo(fullName, true).hooks[h.ID] = &h
	return h
}

// RemoveHook deletes hook id of repository fullName, as a person would in
// the repository's settings.
func (s *Server) RemoveHook(fullName string, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repo(fullName, false); r != nil {
		delete(r.hooks, id)
	}
}

// Hooks returns the hooks of repository fullName, lowest id first.
func (s *Server) Hooks(fullName string) []Hook {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(fullName, false)
	if r == nil {
		return nil
	}
	var out []Hook
	for _, h := range r.sortedHooks() {
		c := *h
		c.Events = slices.Clone(h.Events)
		out = append(out, c)
	}
	return out
}

func (r *repoState) sortedHooks() []*Hook {
	var out []*Hook
	for _, h := range r.hooks {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b *Hook) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// hookRepo authenticates r for hook management and returns the path's
// repository; otherwise it answers r. s.mu must be held.
func (s *Server) hookRepo(w http.ResponseWriter, r *http.Request) (*repoState, bool) {
	tok := s.liveToken(r)
	if tok == nil {
		writeError(w, http.StatusUnauthorized, "Bad credentials")
		return nil, false
	}
	repo := s.repo(r.PathValue("owner")+"/"+r.PathValue("repo"), false)
	if repo == nil || (tok.InstallationID != 0 && !s.tokenCovers(tok, repo)) {
		writeError(w, http.StatusNotFound, "Not Found")
		return nil, false
	}
	if tok.Access != Admin {
		writeError(w, http.StatusForbidden, "Resource not accessible by personal access token")
		return nil, false
	}
	return repo, true
}

func (s *Server) tokenCovers(tok *Token, repo *repoState) bool {
	in, ok := s.installations[tok.InstallationID]
	if !ok || !covers(in, repo.fullName) {
		return false
	}
	_, name, _ := strings.Cut(repo.fullName, "/")
	return tok.Repositories == nil || slices.ContainsFunc(tok.Repositories, func(n string) bool { return strings.EqualFold(n, name) })
}

func (s *Server) listHooks(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, ok := s.hookRepo(w, r)
	if !ok {
		return
	}
	hooks := repo.sortedHooks()
	start, end := s.paginate(w, r, len(hooks))
	out := []map[string]any{}
	for _, h := range hooks[start:end] {
		out = append(out, s.hookJSON(repo, h))
	}
	writeJSON(w, http.StatusOK, out)
}

// pageParams reads page (from 1) and per_page (default 30, capped).
func (s *Server) pageParams(r *http.Request) (page, perPage int) {
	page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	perPage, _ = strconv.Atoi(r.URL.Query().Get("per_page"))
	if perPage <= 0 {
		perPage = 30
	}
	return max(page, 1), min(perPage, s.opts.MaxPerPage)
}

// paginate returns the bounds of the request's page of a listing of
// total items and writes its Link header.
func (s *Server) paginate(w http.ResponseWriter, r *http.Request, total int) (start, end int) {
	page, perPage := s.pageParams(r)
	start = min((page-1)*perPage, total)
	setLinks(w, r, page, perPage, total)
	return start, min(start+perPage, total)
}

// setLinks writes GitHub's Link header for page of a listing of total
// items.
func setLinks(w http.ResponseWriter, r *http.Request, page, perPage, total int) {
	last := max((total+perPage-1)/perPage, 1)
	link := func(p int, rel string) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = q.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
}

// hookJSON renders h as GitHub does: the secret masked.
func (s *Server) hookJSON(repo *repoState, h *Hook) map[string]any {
	config := map[string]any{"url": h.URL, "content_type": h.ContentType, "insecure_ssl": h.InsecureSSL}
	if h.Secret != "" {
		config["secret"] = "********"
	}
	self := fmt.Sprintf("%srepos/%s/hooks/%d", s.APIURL, repo.fullName, h.ID)
	return map[string]any{
		"type": "Repository", "id": h.ID, "name": h.Name, "active": h.Active, "events": h.Events,
		"config": config, "url": self, "test_url": self + "/test", "ping_url": self + "/pings",
		"deliveries_url": self + "/deliveries", "last_response": map[string]any{"code": nil, "status": "unused", "message": nil},
		"created_at": time.Unix(0, 0).UTC(), "updated_at": time.Unix(0, 0).UTC(),
	}
}

// hookInput is the body of a hook creation or edit. insecure_ssl may be a
// string or a number.
type hookInput struct {
	Name         *string   `json:"name"`
	Active       *bool     `json:"active"`
	Events       *[]string `json:"events"`
	AddEvents    []string  `json:"add_events"`
	RemoveEvents []string  `json:"remove_events"`
	Config       *struct {
		URL         string          `json:"url"`
		ContentType string          `json:"content_type"`
		Secret      string          `json:"secret"`
		InsecureSSL json.RawMessage `json:"insecure_ssl"`
	} `json:"config"`
}

// decodeHook reads a hook body; otherwise it answers r.
func decodeHook(w http.ResponseWriter, r *http.Request) (hookInput, bool) {
	var in hookInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return in, false
	}
	return in, true
}

// applyConfig replaces h's config with in's, as GitHub does: a field left
// out takes its default, and a secret left out is removed.
func applyConfig(h *Hook, in hookInput) {
	c := in.Config
	h.URL, h.Secret = c.URL, c.Secret
	h.ContentType = cmp.Or(c.ContentType, "form")
	h.InsecureSSL = cmp.Or(strings.Trim(string(c.InsecureSSL), `"`), "0")
}

// duplicate reports whether another hook of repo has hookURL.
func (s *Server) duplicate(repo *repoState, id int64, hookURL string) bool {
	if s.opts.AllowDuplicateHooks {
		return false
	}
	for _, h := range repo.hooks {
		if h.ID != id && h.URL == hookURL {
			return true
		}
	}
	return false
}

func (s *Server) createHook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, ok := s.hookRepo(w, r)
	if !ok {
		return
	}
	in, ok := decodeHook(w, r)
	switch {
	case !ok:
		return
	case in.Name != nil && *in.Name != "web":
		writeValidation(w, "Hook", "Name must be web")
		return
	case in.Config == nil || in.Config.URL == "":
		writeValidation(w, "Hook", "Config must contain URL for webhooks")
		return
	case s.duplicate(repo, 0, in.Config.URL):
		writeValidation(w, "Hook", "Hook already exists on this repository")
		return
	}
	h := &Hook{ID: s.id(), Name: "web", Active: true, Events: []string{"push"}}
	applyConfig(h, in)
	if in.Active != nil {
		h.Active = *in.Active
	}
	if in.Events != nil {
		h.Events = slices.Clone(*in.Events)
	}
	repo.hooks[h.ID] = h
	writeJSON(w, http.StatusCreated, s.hookJSON(repo, h))
}

func (s *Server) editHook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, ok := s.hookRepo(w, r)
	if !ok {
		return
	}
	id, _ := pathID(r, "id")
	h, found := repo.hooks[id]
	if !found {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	in, ok := decodeHook(w, r)
	switch {
	case !ok:
		return
	case in.Config != nil && in.Config.URL == "":
		writeValidation(w, "Hook", "Config must contain URL for webhooks")
		return
	case in.Config != nil && s.duplicate(repo, id, in.Config.URL):
		writeValidation(w, "Hook", "Hook already exists on this repository")
		return
	}
	if in.Config != nil {
		applyConfig(h, in)
	}
	if in.Active != nil {
		h.Active = *in.Active
	}
	if in.Events != nil {
		h.Events = slices.Clone(*in.Events)
	}
	h.Events = append(h.Events, in.AddEvents...)
	h.Events = slices.DeleteFunc(h.Events, func(e string) bool { return slices.Contains(in.RemoveEvents, e) })
	writeJSON(w, http.StatusOK, s.hookJSON(repo, h))
}

func (s *Server) deleteHook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, ok := s.hookRepo(w, r)
	if !ok {
		return
	}
	id, _ := pathID(r, "id")
	if _, found := repo.hooks[id]; !found {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	delete(repo.hooks, id)
	w.WriteHeader(http.StatusNoContent)
}
