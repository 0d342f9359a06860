package erprest

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// Auth types.
const (
	AuthNone              = "none"
	AuthBearer            = "bearer"
	AuthBasic             = "basic"
	AuthAPIKey            = "api_key"
	AuthOAuth2ClientCreds = "oauth2_client_credentials" //nolint:gosec // G101: an auth mode name, not a credential
)

// unknown_location modes.
const (
	LocationCreate  = "create"
	LocationDefault = "default"
	LocationPark    = "park"
)

// What a 400 or 422 answer to the create request does (on_validation_error).
// Park is the default because a refusal is more often a mistake in the
// Pro's own mapping (a missing field in create_body) than a verdict on the
// work order, and a reject cannot be taken back.
const (
	ValidationPark   = "park"
	ValidationReject = "reject"
	ValidationFail   = "fail"
)

// Schema is the plugin's config schema; the README's config table is
// generated from it (go test -run TestREADME -update).
func Schema() pluginapi.Schema {
	s, i, b, d, l, m, a := pluginapi.TypeString, pluginapi.TypeInt, pluginapi.TypeBool,
		pluginapi.TypeDuration, pluginapi.TypeStringList, pluginapi.TypeStringMap, pluginapi.TypeAny
	return pluginapi.Schema{Fields: []pluginapi.Field{
		// Target.
		{Name: "base_url", Type: s, Required: true, Example: "https://erp.example.com/api/v2",
			Description: "Root URL of the ERP's REST API; every path below is appended to it."},
		{Name: "auth_type", Type: s, Default: AuthNone,
			Enum:        []string{AuthNone, AuthBearer, AuthBasic, AuthAPIKey, AuthOAuth2ClientCreds},
			Description: "How requests authenticate."},
		{Name: "auth_token", Type: s, Secret: true, Description: "Static token for `bearer` auth (sent as `Authorization: Bearer <token>`)."},
		{Name: "auth_username", Type: s, Description: "User name for `basic` auth."},
		{Name: "auth_password", Type: s, Secret: true, Description: "Password for `basic` auth."},
		{Name: "auth_header", Type: s, Default: "X-API-Key", Description: "Header carrying the key for `api_key` auth."},
		{Name: "auth_key", Type: s, Secret: true, Description: "Key for `api_key` auth."},
		{Name: "token_url", Type: s, Example: "https://erp.example.com/oauth/token",
			Description: "Token endpoint for `oauth2_client_credentials`. Tokens are cached until shortly before they expire and fetched again after a 401."},
		{Name: "client_id", Type: s, Description: "OAuth2 client id."},
		{Name: "client_secret", Type: s, Secret: true, Description: "OAuth2 client secret."},
		{Name: "scopes", Type: l, Example: "jobs.write, sites.write", Description: "OAuth2 scopes to request."},
		{Name: "token_auth_style", Type: s, Default: "header", Enum: []string{"header", "body"},
			Description: "How the client id and secret reach the token endpoint: HTTP basic auth (`header`, RFC 6749's recommendation) or form fields (`body`)."},
		{Name: "timeout", Type: d, Default: "15s",
			Description: "Limit for each request to the ERP (and the token endpoint). A slower answer is a retryable failure: the gateway delivers the event again later."},
		{Name: "max_idle_conns", Type: i, Default: int64(16),
			Description: "Idle keep-alive connections kept open to the ERP (Go's default of 2 makes a busy plugin churn connections)."},
		{Name: "headers", Type: m, Example: "{Accept-Language: en}",
			Description: "Extra headers sent with every request to the ERP."},
		{Name: "max_response_bytes", Type: i, Default: int64(1 << 20),
			Description: "Largest ERP response read; a bigger one is an error."},

		// Creating jobs.
		{Name: "create_method", Type: s, Default: "POST", Enum: []string{"POST", "PUT"},
			Description: "HTTP method that creates a job."},
		{Name: "create_path", Type: s, Default: "/jobs", Example: "/customers/${wo.Customer.ID}/jobs",
			Description: "Path (template) that creates a job; expression values are URL-escaped."},
		{Name: "create_body", Type: a, Required: true,
			Example: `{title: "${wo.WorkOrderNumber}", site_id: "${site_id}", due: "${wo.Sla.DueDate}"}`,
			Description: "Body template of the create request: a map (or a JSON string) whose strings may hold ${expression} parts over `wo`, `event`, `account`, `site_id`, `site_key`, `idempotency_key` and `now`. " +
				"A string that is a single ${...} keeps the value's type. Checked when the plugin is configured."},
		{Name: "create_id_path", Type: s, Default: "id", Example: "data.job.id",
			Description: "Where the new job's id is in the create response (dotted path; numbers index arrays), or `header:Location` for an ERP that answers with the new job's URL (its last path segment is the id)."},
		{Name: "scheduled_path", Type: s, Example: "data.job.scheduled_for",
			Description: "Where the job's scheduled start is in the create (or lookup) response. When set and present, an appointment action is sent; see `accept_requires_schedule`."},
		{Name: "idempotency_header", Type: s, Default: "Idempotency-Key",
			Description: "Header sent with the create request so the ERP can recognise a repeat; empty sends none."},
		{Name: "idempotency_key", Type: s, Default: "wogate-${account}-${wo.WorkOrderId}",
			Description: "Template of the idempotency header's value. It must be the same every time the same work order is sent (so no `now`, no event id: a work order can arrive by webhook and by polling)."},
		{Name: "conflict_id_path", Type: s,
			Description: "Where the existing job's id is in a 409 Conflict answer to the create request. Empty uses `create_id_path`."},
		{Name: "lookup_path", Type: s, Example: "/jobs?external_ref=${wo.WorkOrderNumber}",
			Description: "GET path (template) that finds the existing job when a 409 answer does not carry its id."},
		{Name: "lookup_id_path", Type: s, Default: "id", Example: "data.0.id",
			Description: "Where the job id is in the lookup response."},

		// Deciding CorrigoPro actions.
		{Name: "accept", Type: b, Default: true,
			Description: "Accept the work order in CorrigoPro once the ERP has created the job."},
		{Name: "accept_requires_schedule", Type: b, Default: false,
			Description: "Accept only when the ERP's answer carries a scheduled start (`scheduled_path`); otherwise leave the work order for a status callback to accept."},
		{Name: "accept_comment", Type: s, Example: "ERP job ${job_id}",
			Description: "Comment sent with the accept (template; also sees `job_id` and `response`)."},
		{Name: "appointment_pte", Type: s, Default: "Appointment", Enum: []string{"Appointment", "CallFirst", "PTE", "NotApplicable"},
			Description: "Pte of the appointment action sent from the scheduled start."},
		{Name: "on_validation_error", Type: s, Default: ValidationPark, Enum: []string{ValidationPark, ValidationReject, ValidationFail},
			Description: "What a 400 or 422 answer to the create request does: `park` the event for a person with the ERP's reason (the work order is left untouched in CorrigoPro; fix the mapping or the ERP, then reprocess the event), `reject` the work order in CorrigoPro with the ERP's reason (irreversible and seen by the customer: choose it only when the ERP's refusals are about the work order, never about your mapping), or `fail` the event (a dead letter)."},
		{Name: "reject_reason_path", Type: s, Default: "message", Example: "error.detail",
			Description: "Where the ERP's reason is in an error answer. When absent, the first 300 bytes of the answer are used."},

		// Sites.
		{Name: "site_key", Type: s, Example: "${wo.ServiceLocation.SpaceId}",
			Description: "Template of the key the ERP knows a site by (space id, address, ...). Empty turns site handling off (`site_id` is then empty)."},
		{Name: "site_lookup_path", Type: s, Example: "/sites?ref=${site_key}",
			Description: "GET path (template) that finds a site by key. A 404 or no value at `site_lookup_id_path` means the site is unknown. Empty: only the plugin's cache and `unknown_location` decide."},
		{Name: "site_lookup_id_path", Type: s, Default: "id", Example: "data.0.id",
			Description: "Where the site id is in the lookup response."},
		{Name: "unknown_location", Type: s, Default: LocationPark, Enum: []string{LocationCreate, LocationDefault, LocationPark},
			Description: "What to do with a work order whose site the ERP does not know: `create` the site (`site_create_*`), use `default_site_id`, or `park` the event for a person (`pluginapi.NeedsPerson` with the reason: the gateway parks it, a person adds the site and reprocesses it)."},
		{Name: "site_create_method", Type: s, Default: "POST", Enum: []string{"POST", "PUT"},
			Description: "HTTP method that creates a site."},
		{Name: "site_create_path", Type: s, Example: "/sites",
			Description: "Path (template) that creates a site (`unknown_location: create`)."},
		{Name: "site_create_body", Type: a, Example: `{ref: "${site_key}", name: "${wo.ServiceLocation.SpaceName}"}`,
			Description: "Body template of the site create request (same language as `create_body`)."},
		{Name: "site_create_id_path", Type: s, Default: "id",
			Description: "Where the new site's id is in the site create response."},
		{Name: "default_site_id", Type: s,
			Description: "Site id used for unknown locations (`unknown_location: default`)."},

		// Inbound callbacks.
		{Name: "inbound_secret", Type: s, Secret: true,
			Description: "Shared secret that ERP callbacks must prove, checked by the plugin. The gateway opens `/plugins/<name>/inbound` only when its own `plugins.<name>.inbound` has a token or `hmac_secret` (or the loopback opt-in), so callbacks are never unauthenticated; with the same secret as the gateway's `inbound.hmac_secret` (header `X-Signature`) this is a second check. Empty: the plugin trusts the gateway's check."},
		{Name: "inbound_signature", Type: s, Default: "hmac_sha256", Enum: []string{"hmac_sha256", "token"},
			Description: "How callbacks prove the secret: `hmac_sha256` — the signature header holds the hex HMAC-SHA256 of the raw body (optionally prefixed `sha256=`); `token` — the header holds the secret itself."},
		{Name: "inbound_signature_header", Type: s, Default: "X-Signature",
			Description: "Header carrying the callback's signature or token."},
		{Name: "inbound_job_id_path", Type: s, Default: "job_id", Example: "data.job.id",
			Description: "Where the ERP job id is in a callback body."},
		{Name: "inbound_status_path", Type: s, Default: "status", Example: "data.job.state",
			Description: "Where the ERP status is in a callback body."},
		{Name: "status_map", Type: a,
			Example: `{on_site: {action: check_in}, done: [{action: check_out, repair_code: "${body.repair.code}"}, {action: invoice, line_items: "${body.lines}"}]}`,
			Description: "ERP status → CorrigoPro action(s): each status maps to one action or a list; each action has `action` (" + strings.Join(mappingActionNames(), ", ") +
				") and field templates over `body`, `status`, `job_id`, `work_order_id`, `account`, `header`, `now`. See the README for the fields of each action."},
		{Name: "unmapped_status", Type: s, Default: "ignore", Enum: []string{"ignore", "reject"},
			Description: "A callback whose status is not in `status_map`: `ignore` it (200) or answer 422."},
		{Name: "inbound_max_bytes", Type: i, Default: int64(1 << 20),
			Description: "Largest callback body accepted."},
	}}
}

// Config is the applied, compiled configuration.
type Config struct {
	BaseURL          *url.URL
	Auth             AuthConfig
	Timeout          time.Duration
	MaxIdleConns     int
	Headers          map[string]string
	MaxResponseBytes int64

	CreateMethod      string
	CreatePath        *strTemplate
	CreateBody        *bodyTemplate
	CreateIDPath      jsonPath
	ScheduledPath     jsonPath
	IdempotencyHeader string
	IdempotencyKey    *strTemplate
	ConflictIDPath    jsonPath
	LookupPath        *strTemplate
	LookupIDPath      jsonPath

	Accept                 bool
	AcceptRequiresSchedule bool
	AcceptComment          *strTemplate
	AppointmentPte         string
	OnValidationError      string // ValidationPark, ValidationReject or ValidationFail
	RejectReasonPath       jsonPath

	SiteKey          *strTemplate
	SiteLookupPath   *strTemplate
	SiteLookupIDPath jsonPath
	UnknownLocation  string
	SiteCreateMethod string
	SiteCreatePath   *strTemplate
	SiteCreateBody   *bodyTemplate
	SiteCreateIDPath jsonPath
	DefaultSiteID    string

	InboundSecret          string
	InboundSignature       string
	InboundSignatureHeader string
	InboundJobIDPath       jsonPath
	InboundStatusPath      jsonPath
	StatusMap              map[string][]*mapping
	IgnoreUnmapped         bool
	InboundMaxBytes        int64
}

// AuthConfig says how requests to the ERP authenticate.
type AuthConfig struct {
	Type                   string
	Token                  string
	Username, Password     string
	Header, Key            string
	TokenURL               string
	ClientID, ClientSecret string
	Scopes                 []string
	TokenAuthInBody        bool
}

// parseConfig turns a schema-applied config into a Config, compiling every
// template and collecting every problem with the key it belongs to.
func parseConfig(cfg map[string]any) (*Config, []pluginapi.ConfigError) {
	pc := pluginapi.ParseConfig(cfg)
	bad := pc.Fail
	str, boolean, integer, dur := pc.String, pc.Bool, pc.Int64, pc.Duration
	path := func(k string) jsonPath {
		p, err := parseJSONPath(str(k))
		if err != nil {
			bad(k, "%v", err)
		}
		return p
	}
	bodyPath := func(k string) jsonPath {
		p := path(k)
		if p.isHeader() {
			bad(k, "must be a path into the JSON body, not a header")
			return nil
		}
		return p
	}
	tmpl := func(k string, env any, urlMode bool) *strTemplate {
		raw := str(k)
		if raw == "" {
			return nil
		}
		t, err := compileString(raw, env, urlMode)
		if err != nil {
			bad(k, "%v", err)
			return nil
		}
		return t
	}
	body := func(k string, env any) *bodyTemplate {
		v, ok := pc.Any(k)
		if !ok {
			return nil
		}
		t, err := compileBody(v, env)
		if err != nil {
			bad(k, "%v", err)
			return nil
		}
		return t
	}
	jobEnv := JobEnv{}

	c := &Config{
		Timeout: dur("timeout"), MaxIdleConns: int(integer("max_idle_conns")), MaxResponseBytes: integer("max_response_bytes"),
		CreateMethod: str("create_method"), IdempotencyHeader: strings.TrimSpace(str("idempotency_header")),
		Accept: boolean("accept"), AcceptRequiresSchedule: boolean("accept_requires_schedule"),
		AppointmentPte: str("appointment_pte"), OnValidationError: str("on_validation_error"),
		UnknownLocation: str("unknown_location"), SiteCreateMethod: str("site_create_method"),
		DefaultSiteID:    str("default_site_id"),
		InboundSecret:    str("inbound_secret"),
		InboundSignature: str("inbound_signature"), InboundSignatureHeader: strings.TrimSpace(str("inbound_signature_header")),
		IgnoreUnmapped: str("unmapped_status") != "reject", InboundMaxBytes: integer("inbound_max_bytes"),
	}
	if h := pc.StringMap("headers"); h != nil {
		c.Headers = h
		for k := range h {
			if !validHeaderName(k) {
				bad("headers", "%q is not a valid header name", k)
			}
		}
	}

	// Target.
	if u, err := url.Parse(strings.TrimSpace(str("base_url"))); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("base_url", "must be an absolute http or https URL, got %q", str("base_url"))
	} else {
		c.BaseURL = u
	}
	if c.Timeout <= 0 {
		bad("timeout", "must be positive")
	}
	if c.MaxIdleConns <= 0 {
		bad("max_idle_conns", "must be positive")
	}
	if c.MaxResponseBytes <= 0 {
		bad("max_response_bytes", "must be positive")
	}
	a := AuthConfig{
		Type: str("auth_type"), Token: str("auth_token"), Username: str("auth_username"), Password: str("auth_password"),
		Header: strings.TrimSpace(str("auth_header")), Key: str("auth_key"), TokenURL: strings.TrimSpace(str("token_url")),
		ClientID: str("client_id"), ClientSecret: str("client_secret"), TokenAuthInBody: str("token_auth_style") == "body",
	}
	a.Scopes = pc.StringList("scopes")
	need := func(key, val string) {
		if strings.TrimSpace(val) == "" {
			bad(key, "is required for auth_type %s", a.Type)
		}
	}
	switch a.Type {
	case AuthBearer:
		need("auth_token", a.Token)
	case AuthBasic:
		need("auth_username", a.Username)
	case AuthAPIKey:
		need("auth_key", a.Key)
		if !validHeaderName(a.Header) {
			bad("auth_header", "%q is not a valid header name", a.Header)
		}
	case AuthOAuth2ClientCreds:
		need("client_id", a.ClientID)
		need("client_secret", a.ClientSecret)
		if u, err := url.Parse(a.TokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("token_url", "must be an absolute http or https URL for auth_type %s, got %q", a.Type, a.TokenURL)
		}
	}
	c.Auth = a

	// Creating jobs.
	c.CreatePath = tmpl("create_path", jobEnv, true)
	if c.CreatePath == nil && len(pc.Errors()) == 0 {
		c.CreatePath, _ = compileString("", jobEnv, true)
	}
	c.CreateBody = body("create_body", jobEnv)
	c.CreateIDPath = path("create_id_path")
	c.ScheduledPath = bodyPath("scheduled_path")
	if c.IdempotencyHeader != "" && !validHeaderName(c.IdempotencyHeader) {
		bad("idempotency_header", "%q is not a valid header name", c.IdempotencyHeader)
	}
	if c.IdempotencyKey = tmpl("idempotency_key", jobEnv, false); c.IdempotencyKey == nil && c.IdempotencyHeader != "" && !hasKey(pc.Errors(), "idempotency_key") {
		bad("idempotency_key", "must not be empty while idempotency_header is set")
	}
	if c.IdempotencyKey != nil && !stableKey(c.IdempotencyKey) {
		bad("idempotency_key", "must not depend on now or the event (id, source, MessageId, date): the same work order can arrive in several events")
	}
	c.ConflictIDPath = path("conflict_id_path")
	if str("conflict_id_path") == "" {
		c.ConflictIDPath = c.CreateIDPath
	}
	c.LookupPath = tmpl("lookup_path", jobEnv, true)
	c.LookupIDPath = path("lookup_id_path")
	c.AcceptComment = tmpl("accept_comment", jobEnv, false)
	if c.AcceptRequiresSchedule && len(c.ScheduledPath) == 0 {
		bad("accept_requires_schedule", "needs scheduled_path")
	}
	c.RejectReasonPath = bodyPath("reject_reason_path")

	// Sites.
	c.SiteKey = tmpl("site_key", jobEnv, false)
	c.SiteLookupPath = tmpl("site_lookup_path", jobEnv, true)
	c.SiteLookupIDPath = path("site_lookup_id_path")
	c.SiteCreatePath = tmpl("site_create_path", jobEnv, true)
	c.SiteCreateBody = body("site_create_body", jobEnv)
	c.SiteCreateIDPath = path("site_create_id_path")
	if c.SiteKey != nil {
		switch c.UnknownLocation {
		case LocationCreate:
			if c.SiteCreatePath == nil && !hasKey(pc.Errors(), "site_create_path") {
				bad("site_create_path", "is required for unknown_location: create")
			}
		case LocationDefault:
			if strings.TrimSpace(c.DefaultSiteID) == "" {
				bad("default_site_id", "is required for unknown_location: default")
			}
		}
	} else {
		for _, k := range []string{"site_lookup_path", "site_create_path", "site_create_body"} {
			if v, ok := pc.Any(k); ok && v != "" {
				bad(k, "has no effect without site_key")
			}
		}
	}

	// Inbound.
	if c.InboundSecret != "" && !validHeaderName(c.InboundSignatureHeader) {
		bad("inbound_signature_header", "%q is not a valid header name", c.InboundSignatureHeader)
	}
	c.InboundJobIDPath = bodyPath("inbound_job_id_path")
	c.InboundStatusPath = bodyPath("inbound_status_path")
	if len(c.InboundJobIDPath) == 0 && !hasKey(pc.Errors(), "inbound_job_id_path") {
		bad("inbound_job_id_path", "must not be empty")
	}
	if len(c.InboundStatusPath) == 0 && !hasKey(pc.Errors(), "inbound_status_path") {
		bad("inbound_status_path", "must not be empty")
	}
	if c.InboundMaxBytes <= 0 {
		bad("inbound_max_bytes", "must be positive")
	}
	statusMap, _ := pc.Any("status_map")
	sm, smErrs := parseStatusMap(statusMap)
	errs := append(pc.Errors(), smErrs...)
	c.StatusMap = sm

	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
	return c, errs
}

func hasKey(errs []pluginapi.ConfigError, key string) bool {
	return slices.ContainsFunc(errs, func(e pluginapi.ConfigError) bool { return e.Key == key })
}

// validHeaderName reports whether s is an HTTP header field name (RFC 9110
// token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 127 || !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) { //nolint:staticcheck // QF1001: reads as the RFC 9110 token grammar
			return false
		}
	}
	return http.CanonicalHeaderKey(s) != ""
}

// joinConfigErrors makes one error of a config's problems.
func joinConfigErrors(errs []pluginapi.ConfigError) error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// stableKey reports whether an idempotency key template gives the same
// value for two events about the same work order: it renders it for two
// environments that differ only in the event and the time.
func stableKey(t *strTemplate) bool {
	wo := corrigo.WorkOrder{WorkOrderId: 42, WorkOrderNumber: "WO42"}
	a := &JobEnv{WO: wo, Account: "acct", Event: EventEnv{ID: "1", Source: "webhook", MessageID: "m1", Action: "NewWorkOrder", Date: time.Unix(1e9, 0)}, Now: time.Unix(1e9, 0)}
	b := &JobEnv{WO: wo, Account: "acct", Event: EventEnv{ID: "2", Source: "poll", MessageID: "m2", Action: "NewWorkOrder", Date: time.Unix(2e9, 0)}, Now: time.Unix(2e9, 0)}
	ra, errA := t.render(a)
	rb, errB := t.render(b)
	if errA != nil || errB != nil {
		return true // cannot tell from sample data; the runtime will report
	}
	return ra == rb
}
