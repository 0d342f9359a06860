package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/wogate/wogate/internal/progress"
	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/core/config"
)

const dlqDoc = `Dead letters are events and actions the gateway gave up on (dead), set
aside for a person (parked), or that an operator ignored. A dead letter is
named by a ref: event:12 or action:7 (or a bare id with --kind).

reprocess puts a dead letter back in the queue: an event is handled again
by the rules and plugins of the config the gateway runs now; an action is
sent again as stored. ignore marks it resolved without handling it.

The commands talk to the gateway's admin API: --admin-url and --token, or
both taken from --config (admin.listen, admin.token), or the environment
(WOGATE_ADMIN_URL, WOGATE_ADMIN_TOKEN).

Exit codes: 0 done; 1 an error, or some dead letters could not be changed;
2 usage.`

// dlqFlags defines the flags every dlq command takes into o; cfgPath gets
// --config.
func dlqFlags(fs *flag.FlagSet, o *dlqOptions, cfgPath *string) {
	adminFlags(fs, o, cfgPath)
	fs.StringVar(&o.kind, "kind", "", "event or action")
	fs.StringVar(&o.status, "status", "", "dead, parked, refused or ignored (default: dead and parked)")
	fs.StringVar(&o.account, "account", "", "account name")
	fs.StringVar(&o.workOrder, "work-order", "", "work order id")
	fs.StringVar(&o.action, "action", "", "event action (CheckedIn) or action kind (check_in)")
	fs.StringVar(&o.since, "since", "", "only newer than this: RFC 3339 time, UTC date, or a duration back from now (24h)")
	fs.StringVar(&o.limit, "limit", "", "list at most this many (default 100; with --all-matching, up to 10000)")
	fs.BoolVar(&o.all, "all-matching", false, "reprocess/ignore every dead letter the filters match")
	fs.Var(&o.ids, "id", "a dead letter: event:12, action:7, or an id with --kind (repeatable)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress on stderr during --all-matching and large batches")
}

// adminFlags are the flags of every command that talks to the admin API.
func adminFlags(fs *flag.FlagSet, o *dlqOptions, cfgPath *string) {
	fs.StringVar(cfgPath, "config", "", "gateway configuration `FILE`: admin URL and token default to its admin.listen and admin.token")
	fs.StringVar(&o.adminURL, "admin-url", "", "admin API base `URL`, e.g. http://127.0.0.1:8081 (env WOGATE_ADMIN_URL)")
	fs.StringVar(&o.token, "token", "", "admin bearer `TOKEN` (env WOGATE_ADMIN_TOKEN; prefer it or --config: flags show in ps)")
	fs.StringVar(&o.format, "format", "table", "output format: table or json")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "timeout of each request to the admin API")
}

func dlqSub(name, summary, synopsis, doc, example string) *command {
	return &command{
		name: "dlq " + name, summary: summary, synopsis: "dlq " + synopsis, doc: doc + "\n\n" + dlqDoc, example: example,
		flags: func(fs *flag.FlagSet) { dlqFlags(fs, new(dlqOptions), new(string)) },
	}
}

var dlqCmd = &command{
	name:     "dlq",
	summary:  "list, inspect, reprocess or ignore dead letters (through the admin API)",
	synopsis: "dlq <list|show|reprocess|ignore> [flags] [REF ...]",
	doc:      dlqDoc,
	example: `gateway dlq list --config examples/config.yaml
gateway dlq reprocess --all-matching --action NewWorkOrder --since 24h --admin-url http://127.0.0.1:8081`,
	subs: []*command{
		dlqSub("list", "list dead letters, newest first",
			"list [--kind K] [--status S] [--account A] [--work-order N] [--action X] [--since T] [--limit N]",
			"Lists the dead letters the filters match (default: dead and parked ones).",
			"gateway dlq list --status parked --format json"),
		dlqSub("show", "show one dead letter: its payload, attempts and errors",
			"show REF", "Shows one dead letter with its payload, attempts and last errors.",
			"gateway dlq show event:12"),
		dlqSub("reprocess", "put dead letters back in the queue",
			"reprocess REF ... | --id REF ... | --all-matching [filters]",
			"Puts the dead letters named, or all the filters match, back in the queue.",
			"gateway dlq reprocess event:12 action:7"),
		dlqSub("ignore", "mark dead letters resolved without handling them",
			"ignore REF ... | --id REF ... | --all-matching [filters]",
			"Marks the dead letters named, or all the filters match, resolved without handling them.",
			"gateway dlq ignore --all-matching --status dead --account main"),
	},
}

func init() {
	dlqCmd.run = runDLQ
	registerCommand(dlqCmd)
}

func runDLQ(ctx context.Context, args []string) int {
	return dlqMain(ctx, args, os.Stdout, os.Stderr)
}

// dlqBatch is how many dead letters one bulk request carries; progress is
// printed after each.
const dlqBatch = 100

// refList collects repeated --id flags.
type refList []string

func (r *refList) String() string     { return strings.Join(*r, ",") }
func (r *refList) Set(s string) error { *r = append(*r, s); return nil }

type dlqOptions struct {
	adminURL, token string
	format          string
	kind, status    string
	account         string
	workOrder       string
	action, since   string
	limit           string
	all             bool
	ids             refList
	timeout         time.Duration
	quiet           bool
	progress        progress.Options // printing enabled on a terminal, without --quiet
}

// dlqProgress are the progress options for a stderr; tests replace it.
var dlqProgress = func(stderr io.Writer) progress.Options {
	return progress.Options{Enabled: progress.IsTerminal(stderr)}
}

func dlqMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, dlqCmd, args, stdout, stderr, func(ctx context.Context, cmd *command, args []string) int {
		return dlqRun(ctx, cmd, args, stdout, stderr)
	})
}

func dlqRun(ctx context.Context, cmd *command, args []string, stdout, stderr io.Writer) int {
	sub := strings.TrimPrefix(cmd.name, "dlq ")
	var o dlqOptions
	var cfgPath string
	pos, err := cmd.parse(args, stdout, stderr, func(fs *flag.FlagSet) { dlqFlags(fs, &o, &cfgPath) })
	if err != nil {
		return exitCode(err)
	}
	c, err := o.client(cmd, cfgPath, stderr)
	if err != nil {
		return exitCode(err)
	}
	o.progress = dlqProgress(stderr)
	o.progress.Enabled = o.progress.Enabled && !o.quiet

	refs, err := o.refs(append(pos, o.ids...))
	if err != nil {
		return exitCode(usageError(cmd, stderr, "%v", err))
	}
	switch sub {
	case "list":
		if len(refs) > 0 || o.all {
			return exitCode(usageError(cmd, stderr, "takes filters, not refs or --all-matching"))
		}
		return dlqList(ctx, c, &o, stdout, stderr)
	case "show":
		if len(refs) != 1 || o.all {
			return exitCode(usageError(cmd, stderr, "takes exactly one ref (event:12 or action:7)"))
		}
		return dlqShow(ctx, c, &o, refs[0], stdout, stderr)
	}
	switch {
	case o.all && len(refs) > 0:
		return exitCode(usageError(cmd, stderr, "give refs or --all-matching, not both"))
	case !o.all && len(refs) == 0:
		return exitCode(usageError(cmd, stderr, "needs refs (event:12 action:7, or --id) or --all-matching with filters"))
	case !o.all && o.hasFilter():
		return exitCode(usageError(cmd, stderr, "filters select dead letters only with --all-matching"))
	}
	return dlqResolve(ctx, c, &o, sub, refs, stdout, stderr)
}

// client checks the options every admin API command shares (--format, the
// address and token) and returns a client for the address; a usage error
// has been printed when it fails.
func (o *dlqOptions) client(cmd *command, cfgPath string, stderr io.Writer) (*dlqClient, error) {
	if o.format != "table" && o.format != "json" {
		return nil, usageError(cmd, stderr, "--format must be table or json, not %q", o.format)
	}
	if err := o.resolveEndpoint(cfgPath); err != nil {
		return nil, usageError(cmd, stderr, "%v", err)
	}
	return &dlqClient{base: strings.TrimRight(o.adminURL, "/"), token: o.token, http: &http.Client{Timeout: o.timeout}}, nil
}

// resolveEndpoint fills the admin URL and token from flags, then the
// environment, then the config file.
func (o *dlqOptions) resolveEndpoint(cfgPath string) error {
	if o.adminURL == "" {
		o.adminURL = os.Getenv("WOGATE_ADMIN_URL")
	}
	if o.token == "" {
		o.token = os.Getenv("WOGATE_ADMIN_TOKEN")
	}
	if cfgPath != "" && (o.adminURL == "" || o.token == "") {
		cfg, err := config.Load(cfgPath)
		if err != nil {
			return fmt.Errorf("load config for the admin address and token: %w", err)
		}
		if o.adminURL == "" {
			if cfg.Admin.Listen == "" {
				return fmt.Errorf("%s: admin.listen is empty: the admin API is off", cfgPath)
			}
			u, err := listenURL(cfg.Admin.Listen)
			if err != nil {
				return fmt.Errorf("%s: admin.listen: %w", cfgPath, err)
			}
			o.adminURL = u
		}
		if o.token == "" {
			o.token = cfg.Admin.Token.Value()
		}
	}
	if o.adminURL == "" {
		return errors.New("no admin API address: give --admin-url, --config or WOGATE_ADMIN_URL")
	}
	u, err := url.Parse(o.adminURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--admin-url %q: want http://host:port or https://host:port", o.adminURL)
	}
	return nil
}

// listenURL turns a listen address into a URL to reach it from this
// machine: an unspecified host (":8081", "0.0.0.0:8081") becomes loopback.
func listenURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

func (o *dlqOptions) hasFilter() bool {
	return o.status != "" || o.account != "" || o.workOrder != "" || o.action != "" || o.since != "" || o.limit != ""
}

// refs normalises the refs given: kind:id, or a bare id with --kind.
func (o *dlqOptions) refs(in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			if o.kind == "" {
				return nil, fmt.Errorf("ref %q: say which kind (event:%s or action:%s), or give --kind", s, s, s)
			}
			s = o.kind + ":" + s
		}
		kind, id, ok := strings.Cut(s, ":")
		if n, err := strconv.ParseInt(id, 10, 64); !ok || (kind != "event" && kind != "action") || err != nil || n <= 0 {
			return nil, fmt.Errorf("ref %q: want event:ID or action:ID", s)
		}
		out = append(out, s)
	}
	return out, nil
}

func (o *dlqOptions) filter() url.Values {
	return admin.DeadLetterQuery{Kind: o.kind, Status: o.status, Account: o.account, WorkOrder: o.workOrder,
		Action: o.action, Since: o.since, Limit: o.limit}.Query()
}

// dlqClient calls the admin API.
type dlqClient struct {
	base, token string
	http        *http.Client
}

// apiError is an error answer of the admin API.
type apiError struct {
	Status  int
	Code    string
	Field   string
	Message string
}

func (e *apiError) Error() string {
	msg := e.Message
	if e.Status == http.StatusUnauthorized {
		msg += " (check --token, WOGATE_ADMIN_TOKEN or admin.token in --config)"
	}
	return fmt.Sprintf("%s (HTTP %d)", msg, e.Status)
}

// unreachable explains a request that got no answer: which address was
// tried, that the gateway may not be running, and how to point elsewhere.
func (c *dlqClient) unreachable(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		reason := op.Err.Error()
		if errors.Is(err, syscall.ECONNREFUSED) {
			reason = "connection refused"
		}
		return fmt.Errorf("cannot reach the admin API at %s (%s): the gateway may not be running, or its admin.listen differs; pass --admin-url URL or --config FILE", c.base, reason)
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return fmt.Errorf("cannot reach the admin API at %s (%v): check --admin-url", c.base, dns)
	}
	if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
		return fmt.Errorf("the admin API at %s did not answer in time (--timeout): %w", c.base, err)
	}
	return fmt.Errorf("admin API at %s: %w", c.base, err)
}

func (c *dlqClient) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd) //nolint:gosec // G704: the URL is the operator's --admin flag
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil || method != http.MethodGet {
		// The admin API refuses a state-changing request that is not
		// JSON, even with an empty body (a cross-site form cannot send it).
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req) //nolint:gosec // G704: the URL is the operator's --admin flag
	if err != nil {
		return c.unreachable(err)
	}
	defer func() { _ = res.Body.Close() }() // read-only body
	data, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("admin API: read answer: %w", err)
	}
	if res.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Field, Message string }
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return &apiError{Status: res.StatusCode, Code: e.Error.Code, Field: e.Error.Field, Message: e.Error.Message}
		}
		return &apiError{Status: res.StatusCode, Message: strings.TrimSpace(string(bytes.TrimSpace(data[:min(len(data), 300)])))}
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin API: unexpected answer to %s %s: %w", method, path, err)
	}
	return nil
}

type dlqListAnswer struct {
	Items []admin.DeadLetterView `json:"items"`
	Count int                    `json:"count"`
	Limit int                    `json:"limit"`
}

func (c *dlqClient) list(ctx context.Context, q url.Values) (*dlqListAnswer, json.RawMessage, error) {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/api/v1/dead-letters?"+q.Encode(), nil, &raw); err != nil {
		return nil, nil, err
	}
	var a dlqListAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, nil, fmt.Errorf("admin API: unexpected list answer: %w", err)
	}
	return &a, raw, nil
}

func dlqList(ctx context.Context, c *dlqClient, o *dlqOptions, stdout, stderr io.Writer) int {
	a, raw, err := c.list(ctx, o.filter())
	if err != nil {
		fmt.Fprintf(stderr, "gateway dlq: %v\n", err)
		return 1
	}
	if o.format == "json" {
		_, _ = stdout.Write(raw)
		return 0
	}
	if len(a.Items) == 0 {
		fmt.Fprintln(stdout, "no dead letters match")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REF\tTIME (UTC)\tACCOUNT\tWORK ORDER\tACTION\tSTATUS\tATTEMPTS\tLAST ERROR")
	for _, d := range a.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\n", d.Ref, d.Time.UTC().Format("2006-01-02 15:04:05"), d.Account,
			d.WorkOrderID, d.Action, d.Status, d.Attempts, oneLine(d.LastError, 70))
	}
	_ = tw.Flush()
	if a.Count == a.Limit {
		fmt.Fprintf(stderr, "(showing the newest %d; raise --limit or narrow the filters to see more)\n", a.Count)
	}
	return 0
}

func dlqShow(ctx context.Context, c *dlqClient, o *dlqOptions, ref string, stdout, stderr io.Writer) int {
	kind, id, _ := strings.Cut(ref, ":")
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/api/v1/dead-letters/"+kind+"/"+id, nil, &raw); err != nil {
		fmt.Fprintf(stderr, "gateway dlq: %v\n", err)
		return 1
	}
	if o.format == "json" {
		_, _ = stdout.Write(raw)
		return 0
	}
	var d admin.DeadLetterDetail
	if err := json.Unmarshal(raw, &d); err != nil {
		fmt.Fprintf(stderr, "gateway dlq: unexpected answer: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("ref:", d.Ref)
	row("status:", d.Status)
	row("account:", d.Account)
	row("work order:", strconv.FormatInt(d.WorkOrderID, 10))
	row("action:", d.Action)
	row("attempts:", strconv.Itoa(d.Attempts))
	row("time:", d.Time.UTC().Format(time.RFC3339))
	row("last error:", d.LastError)
	if a := d.Outbox; a != nil {
		row("rule:", a.Rule)
		row("plugin:", a.Plugin)
		row("idempotency key:", a.IdempotencyKey)
		row("event:", "event:"+strconv.FormatInt(a.EventID, 10))
	}
	if e := d.Event; e != nil {
		row("message id:", e.MessageID)
		row("source:", e.Source)
		row("config version:", e.ConfigVersion)
	}
	_ = tw.Flush()
	if d.Outbox != nil && len(d.Outbox.Payload) > 0 {
		fmt.Fprintf(stdout, "\npayload:\n%s\n", indentJSON(d.Outbox.Payload))
	}
	if d.Event != nil {
		if len(d.Event.Decision) > 0 {
			fmt.Fprintf(stdout, "\ndecision:\n%s\n", indentJSON(d.Event.Decision))
		}
		if len(d.Event.Body) > 0 {
			fmt.Fprintf(stdout, "\nevent body:\n%s\n", indentJSON(d.Event.Body))
		}
	}
	if len(d.Actions) > 0 {
		fmt.Fprintln(stdout, "\nactions of the event:")
		tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REF\tKIND\tRULE\tSTATUS\tATTEMPTS\tLAST ERROR")
		for _, a := range d.Actions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", a.Ref, a.Kind, a.Rule, a.Status, a.Attempts, oneLine(a.LastError, 70))
		}
		_ = tw.Flush()
	}
	return 0
}

// dlqResolve reprocesses or ignores refs (or every match of the filters)
// in batches. On a terminal it shows progress on stderr after each batch
// (unless --quiet); the results and a summary go to stdout.
func dlqResolve(ctx context.Context, c *dlqClient, o *dlqOptions, op string, refs []string, stdout, stderr io.Writer) int {
	bar := progress.New(stderr, op, "dead letters", o.progress)
	defer bar.Done()
	if o.all {
		q := o.filter()
		if q.Get("limit") == "" {
			q.Set("limit", "10000")
		}
		bar.Note("finding the dead letters that match")
		a, _, err := c.list(ctx, q)
		if err != nil {
			bar.Done()
			fmt.Fprintf(stderr, "gateway dlq: %v\n", err)
			return 1
		}
		for _, d := range a.Items {
			refs = append(refs, d.Ref)
		}
		bar.Note("%d dead letter(s) match", len(refs))
		if len(refs) == 0 {
			bar.Done()
			if o.format == "json" {
				_ = json.NewEncoder(stdout).Encode(admin.BulkResult{Operation: op, Results: []admin.ResolveResult{}})
			} else {
				fmt.Fprintf(stdout, "no dead letters match; nothing to %s\n", op)
			}
			return 0
		}
	}
	total := admin.BulkResult{Operation: op, Results: []admin.ResolveResult{}}
	for i := 0; i < len(refs); i += dlqBatch {
		batch := refs[i:min(i+dlqBatch, len(refs))]
		var res admin.BulkResult
		if err := c.do(ctx, http.MethodPost, "/api/v1/dead-letters/"+op, map[string]any{"refs": batch}, &res); err != nil {
			bar.Done()
			fmt.Fprintf(stderr, "gateway dlq: %v\n", err)
			if total.Requested > 0 {
				fmt.Fprintf(stderr, "%s: stopped after %d of %d (%d ok, %d failed)\n", op, total.Requested, len(refs), total.Succeeded, total.Failed)
			}
			return 1
		}
		total.ConfigVersion = res.ConfigVersion
		total.Requested += res.Requested
		total.Succeeded += res.Succeeded
		total.Failed += res.Failed
		total.Results = append(total.Results, res.Results...)
		bar.Status(int64(min(i+dlqBatch, len(refs))), int64(len(refs)), fmt.Sprintf("%d ok, %d failed", total.Succeeded, total.Failed))
	}
	bar.Done()
	if o.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(total)
	} else {
		verb := map[string]string{"reprocess": "requeued", "ignore": "ignored"}[op]
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REF\tRESULT")
		for _, r := range total.Results {
			if r.OK {
				fmt.Fprintf(tw, "%s\t%s\n", r.Ref, verb)
			} else {
				fmt.Fprintf(tw, "%s\tfailed: %s\n", r.Ref, oneLine(r.Error, 300))
			}
		}
		_ = tw.Flush()
		fmt.Fprintf(stdout, "%d %s, %d failed", total.Succeeded, verb, total.Failed)
		if op == "reprocess" && total.ConfigVersion != "" {
			fmt.Fprintf(stdout, "; events run again under config %s", total.ConfigVersion)
		}
		fmt.Fprintln(stdout)
	}
	if total.Failed > 0 {
		return 1
	}
	return 0
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func indentJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Indent(&b, raw, "  ", "  ") != nil {
		return "  " + string(raw)
	}
	return "  " + b.String()
}
