package admin

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

//go:embed templates/*.html static/*
var uiFS embed.FS

// uiCSP allows only the UI's own stylesheet and script.
const uiCSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

type templates struct {
	pages map[string]*template.Template
}

var uiFuncs = template.FuncMap{
	"fmtTime": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04:05.000")
	},
	"fmtAge": func(secs float64) string {
		if secs <= 0 {
			return "–"
		}
		return (time.Duration(secs) * time.Second).Round(time.Second).String()
	},
	"pretty": func(raw json.RawMessage) string {
		if len(raw) == 0 {
			return ""
		}
		var b bytes.Buffer
		if json.Indent(&b, raw, "", "  ") != nil {
			return string(raw)
		}
		return b.String()
	},
	"prettyText": func(s string) string {
		var b bytes.Buffer
		if s != "" && (s[0] == '{' || s[0] == '[') && json.Indent(&b, []byte(s), "", "  ") == nil {
			return b.String()
		}
		return s
	},
	"woLink": func(account string, id int64) string {
		q := url.Values{"id": {strconv.FormatInt(id, 10)}}
		if account != "" {
			q.Set("account", account)
		}
		return "/ui/work-orders?" + q.Encode()
	},
	"dlLink": func(kind string, id int64) string {
		return "/ui/dead-letters/" + kind + "/" + strconv.FormatInt(id, 10)
	},
	"list": func(s ...string) []string { return s },
	"short": func(s string, n int) string {
		if len([]rune(s)) <= n {
			return s
		}
		return string([]rune(s)[:n]) + "…"
	},
}

func mustTemplates() *templates {
	pages, err := fs.Glob(uiFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	t := &templates{pages: map[string]*template.Template{}}
	for _, p := range pages {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t.pages[name] = template.Must(template.New(name).Funcs(uiFuncs).ParseFS(uiFS, "templates/layout.html", p))
	}
	return t
}

// page is what every template gets.
type page struct {
	Title   string
	Nav     string
	CSRF    string
	Session bool // logged in with the cookie: show the logout button
	Open    bool // no token configured
	Flash   string
	Error   string
	Data    any
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	a := authOf(r.Context())
	if a.session != "" {
		p.CSRF = h.csrfFor(a.session)
		p.Session = !a.open
	}
	p.Open = a.open
	var buf bytes.Buffer
	if err := h.tmpl.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		h.log.Error("render admin page", "page", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", uiCSP)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (h *Handler) uiError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, "error", page{Title: http.StatusText(status), Error: msg})
}

// uiFail shows a store or input error with the status it maps to.
func (h *Handler) uiFail(w http.ResponseWriter, r *http.Request, err error) {
	status, _ := storeStatus(err)
	if status >= 500 {
		h.log.Error("admin page failed", "path", r.URL.Path, "err", err)
	}
	h.uiError(w, r, status, err.Error())
}

func (h *Handler) uiRoutes() {
	m := routeMux{h}
	static, _ := fs.Sub(uiFS, "static")
	m.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /ui/login", h.uiLoginForm)
	m.HandleFunc("POST /ui/login", h.uiLogin)
	m.HandleFunc("POST /ui/logout", h.requireUI(h.uiLogout))
	m.HandleFunc("GET /ui/{$}", h.requireUI(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/log", http.StatusFound)
	}))
	m.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusFound) })
	m.HandleFunc("GET /ui/log", h.requireUI(h.uiLog))
	m.HandleFunc("GET /ui/dead-letters", h.requireUI(h.uiDeadLetters))
	m.HandleFunc("GET /ui/dead-letters/{kind}/{id}", h.requireUI(h.uiDeadLetter))
	m.HandleFunc("POST /ui/dead-letters/act", h.requireUI(h.uiAct))
	m.HandleFunc("GET /ui/work-orders", h.requireUI(h.uiWorkOrders))
	m.HandleFunc("GET /ui/rules", h.requireUI(h.uiRules))
	m.HandleFunc("GET /ui/health", h.requireUI(h.uiHealth))
	m.HandleFunc("GET /ui/plugins", h.requireUI(h.uiPlugins))
	m.HandleFunc("POST /ui/plugins/{name}/restart", h.requireUI(h.uiRestartPlugin))
	m.HandleFunc("/ui/", h.requireUI(func(w http.ResponseWriter, r *http.Request) {
		h.uiError(w, r, http.StatusNotFound, "No such page: "+r.URL.Path)
	}))
}

type loginData struct {
	Next string
}

func (h *Handler) uiLoginForm(w http.ResponseWriter, r *http.Request) {
	if h.o.Token == "" {
		http.Redirect(w, r, "/ui/", http.StatusFound)
		return
	}
	h.render(w, r, http.StatusOK, "login", page{Title: "Log in", Data: loginData{Next: safeNext(r.URL.Query().Get("next"))}})
}

func (h *Handler) uiLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		h.uiError(w, r, http.StatusForbidden, "Cross-origin form submission refused.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.uiError(w, r, http.StatusBadRequest, "Unreadable form.")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	if h.o.Token == "" {
		http.Redirect(w, r, next, http.StatusSeeOther) //nolint:gosec // G710: next went through safeNext (local paths only)
		return
	}
	if wait := h.logins.blocked(r); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		h.render(w, r, http.StatusTooManyRequests, "login", page{Title: "Log in",
			Error: "Too many wrong tokens. Try again in " + wait.Round(time.Second).String() + ".", Data: loginData{Next: next}})
		return
	}
	if !h.tokenOK(r.PostForm.Get("token")) {
		h.logins.failed(r)
		h.log.Warn("admin UI login failed", "remote", r.RemoteAddr)
		h.render(w, r, http.StatusUnauthorized, "login", page{Title: "Log in", Error: "Wrong token.", Data: loginData{Next: next}})
		return
	}
	h.logins.succeeded(r)
	h.setSession(w, r, h.newSession())
	http.Redirect(w, r, next, http.StatusSeeOther) //nolint:gosec // G710: next went through safeNext (local paths only)
}

// uiLogout ends the session: the cookie is cleared and the session epoch
// moves on, so a copy of the cookie (another browser, a stolen one) no
// longer works either.
func (h *Handler) uiLogout(w http.ResponseWriter, r *http.Request) {
	if h.o.Token != "" {
		if err := h.revokeSessions(r.Context()); err != nil {
			h.uiError(w, r, http.StatusServiceUnavailable, "Could not end the session: "+err.Error()+". Try again.")
			return
		}
	}
	clearSession(w, r)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// apiRevokeSessions ends every UI session (the API's bearer token is not
// a session: rotate admin.token to revoke it).
func (h *Handler) apiRevokeSessions(w http.ResponseWriter, r *http.Request) {
	if err := h.revokeSessions(r.Context()); err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "revoked", "epoch": h.epoch.Load()})
}

type logData struct {
	Q        url.Values
	Accounts []string
	Page     LogPage
	Rows     []logRow
	Older    string // link to the next page
}

// logRow is a log entry as the page shows it: outbound calls CorrigoPro
// refused, and entries of work orders with an unresolved dead letter,
// are marked so they stand out.
type logRow struct {
	LogEntryView
	// Outcome is "rejected" (an outbound call answered 4xx), "failed"
	// (5xx, or no answer) or "".
	Outcome string
	// DeadLetter links the work order's dead letters when it has any.
	DeadLetter string
}

// logRows marks the page's entries. One store query (the unresolved dead
// letters, capped like the health page's count) finds the work orders
// with dead letters.
func (h *Handler) logRows(ctx context.Context, items []LogEntryView) []logRow {
	dl := map[string]bool{}
	if dls, err := h.st.ListDeadLetters(ctx, store.DeadLetterFilter{Limit: 1000}); err == nil {
		for _, d := range dls {
			if d.Event != nil {
				dl[d.Event.Account+"/"+strconv.FormatInt(d.Event.WorkOrderID, 10)] = true
			} else if d.Action != nil {
				dl[d.Action.Account+"/"+strconv.FormatInt(d.Action.WorkOrderID, 10)] = true
			}
		}
	}
	rows := make([]logRow, len(items))
	for i, e := range items {
		r := logRow{LogEntryView: e}
		if e.Direction == "outbound" {
			switch {
			case e.Status >= 400 && e.Status < 500:
				r.Outcome = "rejected"
			case e.Status >= 500, e.Status == 0 && e.Error != "":
				r.Outcome = "failed"
			}
		}
		if e.WorkOrderID != 0 && dl[e.Account+"/"+strconv.FormatInt(e.WorkOrderID, 10)] {
			r.DeadLetter = "/ui/dead-letters?" + url.Values{"account": {e.Account}, "work_order": {strconv.FormatInt(e.WorkOrderID, 10)}}.Encode()
		}
		rows[i] = r
	}
	return rows
}

func (h *Handler) uiLog(w http.ResponseWriter, r *http.Request) {
	q := dropEmpty(r.URL.Query())
	d := logData{Q: q, Accounts: h.accounts()}
	f, err := parseLogFilter(q, d.Accounts, h.o.Now())
	if err != nil {
		h.render(w, r, http.StatusBadRequest, "log", page{Title: "Communication log", Nav: "log", Error: err.Error(), Data: d})
		return
	}
	if d.Page, err = h.queryLog(r.Context(), f); err != nil {
		h.uiFail(w, r, err)
		return
	}
	d.Rows = h.logRows(r.Context(), d.Page.Items)
	if d.Page.NextBeforeID != 0 {
		nq := cloneValues(q)
		nq.Set("before_id", strconv.FormatInt(d.Page.NextBeforeID, 10))
		d.Older = "/ui/log?" + nq.Encode()
	}
	h.render(w, r, http.StatusOK, "log", page{Title: "Communication log", Nav: "log", Data: d})
}

type deadLettersData struct {
	Q        url.Values
	Filter   DeadLetterQuery
	Accounts []string
	Items    []DeadLetterView
	Limit    int
}

func (h *Handler) uiDeadLetters(w http.ResponseWriter, r *http.Request) {
	q := dropEmpty(r.URL.Query())
	flash := flashText(q)
	for _, k := range []string{"done", "ok", "failed"} {
		q.Del(k)
	}
	in := filterInputFromQuery(q)
	d := deadLettersData{Q: q, Filter: in, Accounts: h.accounts()}
	p := page{Title: "Dead letters", Nav: "dead-letters", Flash: flash, Data: &d}
	if err := checkParams(q, deadLetterParams); err != nil {
		p.Error = err.Error()
		h.render(w, r, http.StatusBadRequest, "deadletters", p)
		return
	}
	f, err := in.parse(d.Accounts, h.o.Now(), maxListLimit)
	if err != nil {
		p.Error = err.Error()
		h.render(w, r, http.StatusBadRequest, "deadletters", p)
		return
	}
	d.Limit = f.Limit
	if d.Items, err = h.listDeadLetters(r.Context(), f); err != nil {
		h.uiFail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "deadletters", p)
}

func flashText(q url.Values) string {
	op := q.Get("done")
	if op != "reprocess" && op != "ignore" {
		return ""
	}
	ok, _ := strconv.Atoi(q.Get("ok"))
	failed, _ := strconv.Atoi(q.Get("failed"))
	verb := map[string]string{"reprocess": "Requeued", "ignore": "Ignored"}[op]
	s := fmt.Sprintf("%s %d dead letter(s).", verb, ok)
	if failed > 0 {
		s += fmt.Sprintf(" %d could not be changed (already resolved, or not found).", failed)
	}
	return s
}

type deadLetterData struct {
	D             *DeadLetterDetail
	Resolvable    bool
	ConfigVersion string
}

func (h *Handler) uiDeadLetter(w http.ResponseWriter, r *http.Request) {
	rf, err := parseKindID("ref", r.PathValue("kind"), r.PathValue("id"))
	if err != nil {
		h.uiFail(w, r, err)
		return
	}
	d, err := h.deadLetter(r.Context(), rf)
	if err != nil {
		h.uiFail(w, r, err)
		return
	}
	res := false
	switch d.Status {
	case "dead", "parked", "ignored", "refused":
		res = d.Kind == "action" || d.Status != "refused"
	}
	h.render(w, r, http.StatusOK, "deadletter", page{Title: "Dead letter " + rf.String(), Nav: "dead-letters",
		Data: deadLetterData{D: d, Resolvable: res, ConfigVersion: h.configVersion()}})
}

// uiAct reprocesses or ignores dead letters from the list or detail page:
// one (a row's button, field "row" = "reprocess:event:12"), the checked
// ones (field "ref", with "op"), or every one matching the list's filter
// ("op" = "reprocess-all" / "ignore-all", filter in f_* fields).
func (h *Handler) uiAct(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	filter := DeadLetterQuery{Kind: form.Get("f_kind"), Status: form.Get("f_status"), Account: form.Get("f_account"),
		WorkOrder: form.Get("f_work_order"), Action: form.Get("f_action"), Since: form.Get("f_since"), Limit: form.Get("f_limit")}
	var op resolveOp
	var refs []ref
	if row := form.Get("row"); row != "" {
		o, rs, _ := strings.Cut(row, ":")
		rf, err := parseRef("row", rs)
		if err != nil {
			h.uiFail(w, r, err)
			return
		}
		op, refs = resolveOp(o), []ref{rf}
	} else {
		o := form.Get("op")
		all := strings.HasSuffix(o, "-all")
		op = resolveOp(strings.TrimSuffix(o, "-all"))
		if all {
			f, err := filter.parse(h.accounts(), h.o.Now(), maxBulk)
			if err != nil {
				h.uiFail(w, r, err)
				return
			}
			if filter.Limit == "" {
				f.Limit = maxBulk
			}
			if refs, err = h.refsMatching(r.Context(), f); err != nil {
				h.uiFail(w, r, err)
				return
			}
		} else {
			if len(form["ref"]) > maxBulk {
				h.uiFail(w, r, badField("ref", fmt.Sprintf("at most %d at once", maxBulk)))
				return
			}
			for _, s := range form["ref"] {
				rf, err := parseRef("ref", s)
				if err != nil {
					h.uiFail(w, r, err)
					return
				}
				refs = append(refs, rf)
			}
			if len(refs) == 0 {
				h.uiFail(w, r, badField("ref", "select at least one dead letter"))
				return
			}
		}
	}
	if op != opReprocess && op != opIgnore {
		h.uiFail(w, r, badField("op", "must be reprocess or ignore"))
		return
	}
	res := h.resolveAll(r.Context(), op, refs)
	if form.Get("from") == "detail" && len(refs) == 1 {
		if res.Failed > 0 {
			h.uiError(w, r, res.Results[0].Code, res.Results[0].Error)
			return
		}
	}
	q := filter.Query()
	q.Set("done", string(op))
	q.Set("ok", strconv.Itoa(res.Succeeded))
	q.Set("failed", strconv.Itoa(res.Failed))
	http.Redirect(w, r, "/ui/dead-letters?"+q.Encode(), http.StatusSeeOther)
}

type workOrderData struct {
	Account  string
	ID       string
	Accounts []string
	T        *Timeline
}

func (h *Handler) uiWorkOrder(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := workOrderData{Account: q.Get("account"), ID: q.Get("id"), Accounts: h.accounts()}
	p := page{Title: "Work order timeline", Nav: "work-orders", Data: &d}
	if d.ID == "" {
		h.render(w, r, http.StatusOK, "workorder", p)
		return
	}
	id, err := parseID("id", d.ID)
	if err == nil {
		if d.Account, err = checkAccount(d.Account, d.Accounts); err == nil && d.Account == "" && len(d.Accounts) == 0 {
			err = badField("account", "required")
		}
	}
	if err != nil {
		p.Error = err.Error()
		h.render(w, r, http.StatusBadRequest, "workorder", p)
		return
	}
	if d.T, err = h.timeline(r.Context(), d.Account, id); err != nil {
		h.uiFail(w, r, err)
		return
	}
	p.Title = "Work order " + d.ID
	h.render(w, r, http.StatusOK, "workorder", p)
}

type rulesData struct {
	Rules         []RuleInfo
	ConfigVersion string
}

func (h *Handler) uiRules(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "rules", page{Title: "Rules", Nav: "rules", Data: rulesData{Rules: h.rules(), ConfigVersion: h.configVersion()}})
}

func (h *Handler) uiHealth(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "health", page{Title: "Health", Nav: "health", Data: h.status(r.Context())})
}

func dropEmpty(q url.Values) url.Values {
	out := url.Values{}
	for k, vs := range q {
		for _, v := range vs {
			if v != "" {
				out.Add(k, v)
			}
		}
	}
	return out
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, vs := range q {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
