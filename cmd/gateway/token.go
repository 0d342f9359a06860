package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/gateway"
	"github.com/wogate/wogate/pkg/corrigo"
)

// tokenOptions are token inspect's flags.
type tokenOptions struct {
	config, account, certificate, format string
}

func (o *tokenOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.config, "config", "", "the gateway's `FILE`: check against each account's webhook certificate and verifier settings")
	fs.StringVar(&o.account, "account", "", "check only this account `NAME` (with --config)")
	fs.StringVar(&o.certificate, "certificate", "", "a PEM certificate `FILE` to check against instead of the configured ones (with --config: for the accounts checked, keeping their settings)")
	fs.StringVar(&o.format, "format", "text", "output format: text or json")
}

const tokenInspectDoc = `Reads one CorrigoPro token, as captured from a webhook (for example one
the CorrigoPro Desktop emulator sent), from FILE or standard input: a
saved HTTP request, its "Authorization: Bearer …" header line, the
header's value, or the bare token. The token is never an argument, so it
stays out of shell history and process lists; it is never printed.

Prints the ticket's claims (name, audience, scope), its issue and expiry
instants and whether it is valid now; then, for each account of --config
(or the --certificate given), every hash × signed-bytes combination that
verifies the signature with the certificate's key, which of them the
account's webhook settings try, and whether the gateway would accept the
token now, or why not. The signature algorithm is inferred
(docs/webhook-tokens.md): run this against a real token before going live
and pin the combination it reports.

Exits 0 when some account (or the certificate) accepts the token now, 1
when none does, 2 on a usage error.`

var tokenCmd = &command{
	name:     "token",
	summary:  "check a captured CorrigoPro webhook token against the configured certificates",
	synopsis: "token inspect [--config FILE] [--account NAME] [--certificate FILE] [FILE|-]",
	doc:      tokenInspectDoc,
	example:  `gateway token inspect --config /etc/wogate/config.yaml saved-request.txt`,
	subs: []*command{{
		name:     "token inspect",
		summary:  "print a token's claims, expiry and which signature combinations verify",
		synopsis: "token inspect [--config FILE] [--account NAME] [--certificate FILE] [--format text|json] [FILE|-]",
		doc:      tokenInspectDoc,
		example: `gateway token inspect --config /etc/wogate/config.yaml saved-request.txt
pbpaste | gateway token inspect --certificate certs/corrigo.pem
gateway token inspect --config config.yaml --account main --format json capture.txt`,
		flags: func(fs *flag.FlagSet) { new(tokenOptions).define(fs) },
	}},
}

func init() {
	tokenCmd.run = func(ctx context.Context, args []string) int {
		return tokenMain(ctx, args, os.Stdin, os.Stdout, os.Stderr)
	}
	registerCommand(tokenCmd)
}

func tokenMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, tokenCmd, args, stdout, stderr, func(ctx context.Context, sub *command, args []string) int {
		return tokenInspect(sub, args, stdin, stdout, stderr, time.Now())
	})
}

// tokenReport is token inspect's answer (--format json).
type tokenReport struct {
	Gzipped        bool            `json:"gzipped"`
	DataBytes      int             `json:"data_bytes"`
	SignatureBytes int             `json:"signature_bytes"`
	Ticket         *ticketReport   `json:"ticket,omitempty"`
	TicketError    string          `json:"ticket_error,omitempty"`
	Checks         []accountReport `json:"checks"`
	Accepted       bool            `json:"accepted"`
}

type ticketReport struct {
	AuthenticationType string            `json:"authentication_type"`
	Name               string            `json:"name"`
	Audiences          []string          `json:"audiences"`
	Scope              string            `json:"scope"`
	Claims             []corrigo.Claim   `json:"claims"`
	Properties         map[string]string `json:"properties"`
	Issued             time.Time         `json:"issued,omitzero"`
	Expires            time.Time         `json:"expires,omitzero"`
	ExpiryError        string            `json:"expiry_error,omitempty"`
	// ValidNow: now lies between issued (when present) and expires, with
	// no clock skew.
	ValidNow bool `json:"valid_now"`
}

type accountReport struct {
	Account     string   `json:"account,omitempty"` // "" for --certificate alone
	Certificate string   `json:"certificate"`       // "configured" or "--certificate"
	KeyBits     []int    `json:"key_bits,omitempty"`
	Verifying   []string `json:"verifying"`  // combinations that verify, "SHA-256/decoded#0" (key index)
	Configured  []string `json:"configured"` // combinations the account's verifier tries
	Accepted    bool     `json:"accepted"`
	Reason      string   `json:"reason,omitempty"` // the verifier's reason when refused
	Error       string   `json:"error,omitempty"`  // the verifier's message when refused
	Pin         string   `json:"pin,omitempty"`
	Note        string   `json:"note,omitempty"`
}

func tokenInspect(c *command, args []string, stdin io.Reader, stdout, stderr io.Writer, now time.Time) int {
	var o tokenOptions
	pos, err := c.parse(args, stdout, stderr, o.define)
	if err != nil {
		return exitCode(err)
	}
	switch {
	case len(pos) > 1:
		return exitCode(usageError(c, stderr, "name one capture FILE (or - for standard input), not %d", len(pos)))
	case o.format != "text" && o.format != "json":
		return exitCode(usageError(c, stderr, "unknown format %q (want text or json)", o.format))
	case o.account != "" && o.config == "":
		return exitCode(usageError(c, stderr, "--account needs --config"))
	}
	var capture []byte
	if len(pos) == 0 || pos[0] == "-" {
		if f, ok := stdin.(*os.File); ok {
			if fi, serr := f.Stat(); serr == nil && fi.Mode()&os.ModeCharDevice != 0 {
				fmt.Fprintln(stderr, "gateway token inspect: reading the capture from standard input; paste it, then press Ctrl-D")
			}
		}
		capture, err = io.ReadAll(io.LimitReader(stdin, 1<<20+1))
	} else {
		capture, err = os.ReadFile(pos[0])
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway token inspect: read the capture: %v\n", err)
		return 1
	}
	token, err := corrigo.TokenFromCapture(capture)
	if err != nil {
		fmt.Fprintf(stderr, "gateway token inspect: %v\n", err)
		return 1
	}
	var certPEM []byte
	if o.certificate != "" {
		if certPEM, err = os.ReadFile(o.certificate); err != nil {
			fmt.Fprintf(stderr, "gateway token inspect: --certificate: %v\n", err)
			return 1
		}
	}
	// The token's shape first, with no certificate.
	ti, err := corrigo.InspectToken(token, nil)
	if err != nil {
		fmt.Fprintf(stderr, "gateway token inspect: not a CorrigoPro token: %v\n", err)
		return 1
	}
	rep := tokenReport{Gzipped: ti.Gzipped, DataBytes: ti.DataBytes, SignatureBytes: ti.SignatureBytes, Checks: []accountReport{}}
	if ti.Ticket != nil {
		rep.Ticket = describeTicket(ti.Ticket, now)
	} else if ti.TicketErr != nil {
		rep.TicketError = ti.TicketErr.Error()
	}

	if o.config == "" {
		if certPEM == nil {
			return exitCode(usageError(c, stderr, "nothing to check the signature with: pass --config FILE or --certificate FILE"))
		}
		rep.Checks = append(rep.Checks, checkToken(token, "", "--certificate", certPEM, corrigo.VerifyOptions{}, now))
	} else {
		cfg, err := config.Load(o.config)
		if err != nil {
			fmt.Fprintf(stderr, "gateway token inspect: %v\n", err)
			return 1
		}
		names := make([]string, 0, len(cfg.Corrigo.Accounts))
		for n := range cfg.Corrigo.Accounts {
			names = append(names, n)
		}
		sort.Strings(names)
		if o.account != "" {
			if _, ok := cfg.Corrigo.Accounts[o.account]; !ok {
				fmt.Fprintf(stderr, "gateway token inspect: --account %q: the config has %s\n", o.account, strings.Join(names, ", "))
				return 1
			}
			names = []string{o.account}
		}
		for _, n := range names {
			a := cfg.Corrigo.Accounts[n]
			vo, err := gateway.WebhookVerifyOptions(cfg, n, a)
			if err != nil {
				rep.Checks = append(rep.Checks, accountReport{Account: n, Error: err.Error()})
				continue
			}
			pem, from := certPEM, "--certificate"
			if pem == nil {
				pem, from = []byte(a.Webhook.Certificate.Value()), "configured"
			}
			if len(strings.TrimSpace(string(pem))) == 0 {
				note := "no webhook certificate configured"
				switch {
				case a.Sandbox:
					note = "uses the embedded sandbox, whose certificate exists only while it runs: pass --certificate"
				case a.Webhook.Disabled:
					note = "webhook disabled"
				}
				rep.Checks = append(rep.Checks, accountReport{Account: n, Note: note, Verifying: []string{}, Configured: []string{}})
				continue
			}
			rep.Checks = append(rep.Checks, checkToken(token, n, from, pem, vo, now))
		}
	}
	for _, ch := range rep.Checks {
		rep.Accepted = rep.Accepted || ch.Accepted
	}
	if o.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printTokenReport(stdout, rep, now)
	}
	if rep.Accepted {
		return 0
	}
	return 1
}

func describeTicket(t *corrigo.Ticket, now time.Time) *ticketReport {
	tr := &ticketReport{AuthenticationType: t.AuthenticationType, Name: t.Name(), Audiences: t.Audiences(),
		Claims: t.Claims, Properties: t.Properties.Dictionary}
	if tr.Audiences == nil {
		tr.Audiences = []string{}
	}
	if tr.Claims == nil {
		tr.Claims = []corrigo.Claim{}
	}
	tr.Scope, _ = t.Claim(corrigo.ClaimTypeScope)
	if iss, err := t.Issued(); err == nil {
		tr.Issued = iss
	}
	exp, err := t.Expires()
	if err != nil {
		tr.ExpiryError = err.Error()
		return tr
	}
	tr.Expires = exp
	tr.ValidNow = now.Before(exp) && (tr.Issued.IsZero() || !now.Before(tr.Issued))
	return tr
}

// checkToken tries every combination against pem and runs the verifier the
// gateway would build with vo.
func checkToken(token, account, from string, pem []byte, vo corrigo.VerifyOptions, now time.Time) accountReport {
	r := accountReport{Account: account, Certificate: from, Verifying: []string{}, Configured: []string{}}
	ti, err := corrigo.InspectToken(token, pem)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.KeyBits = ti.KeyBits
	for _, c := range ti.Verified() {
		r.Verifying = append(r.Verifying, fmt.Sprintf("%s#%d", c.Combination(), c.Key))
	}
	vo.Now = func() time.Time { return now }
	v, err := corrigo.NewVerifier(pem, vo)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	for _, c := range v.Combinations() {
		r.Configured = append(r.Configured, c.Hash.String()+"/"+string(c.SignedBytes))
	}
	res, err := v.VerifyToken(token)
	if err != nil {
		r.Reason, r.Error = string(corrigo.ReasonOf(err)), err.Error()
		if r.Reason == string(corrigo.ReasonBadSignature) && len(r.Verifying) > 0 {
			r.Note = "the certificate verifies the token with a combination these settings do not try: set webhook hashes/signed_bytes as the pin line says"
		}
	} else {
		r.Accepted = true
	}
	if vs := ti.Verified(); len(vs) > 0 {
		c := vs[0]
		if res != nil {
			c = corrigo.ComboResult{Hash: res.Hash, SignedBytes: res.SignedBytes}
		}
		h := strings.ToLower(strings.ReplaceAll(c.Hash.String(), "-", ""))
		r.Pin = "hashes: [" + h + "], signed_bytes: [" + string(c.SignedBytes) + "]"
	}
	return r
}

func printTokenReport(w io.Writer, rep tokenReport, now time.Time) {
	form := "plain JSON"
	if rep.Gzipped {
		form = "gzip-compressed"
	}
	fmt.Fprintf(w, "token: %s ticket, %d data bytes, %d-byte signature (the token itself is not shown)\n", form, rep.DataBytes, rep.SignatureBytes)
	if t := rep.Ticket; t != nil {
		fmt.Fprintf(w, "\nticket (what it claims; trust it only if a combination below verifies):\n")
		fmt.Fprintf(w, "  authentication type: %s\n", t.AuthenticationType)
		fmt.Fprintf(w, "  name:      %q   (pin it with webhook.names)\n", t.Name)
		fmt.Fprintf(w, "  audience:  %s\n", strings.Join(t.Audiences, ", "))
		fmt.Fprintf(w, "  scope:     %q\n", t.Scope)
		for _, c := range t.Claims {
			switch c.Type {
			case corrigo.ClaimTypeName, corrigo.ClaimTypeScope, corrigo.ClaimTypeAudience:
				continue
			}
			fmt.Fprintf(w, "  claim:     %s = %q\n", c.Type, c.Value)
		}
		if !t.Issued.IsZero() {
			fmt.Fprintf(w, "  issued:    %s (%s)\n", t.Issued.Format(time.RFC3339), ago(now, t.Issued))
		} else {
			fmt.Fprintf(w, "  issued:    (absent)\n")
		}
		switch {
		case t.ExpiryError != "":
			fmt.Fprintf(w, "  expires:   unreadable: %s\n", t.ExpiryError)
		default:
			fmt.Fprintf(w, "  expires:   %s (%s)\n", t.Expires.Format(time.RFC3339), ago(now, t.Expires))
			if !t.Issued.IsZero() {
				fmt.Fprintf(w, "  lifetime:  %s (CorrigoPro's are 20m)\n", t.Expires.Sub(t.Issued))
			}
		}
		valid := "no"
		if t.ValidNow {
			valid = "yes"
		}
		fmt.Fprintf(w, "  valid now: %s\n", valid)
	} else {
		fmt.Fprintf(w, "\nticket: unreadable: %s\n", rep.TicketError)
	}
	for _, ch := range rep.Checks {
		title := "certificate " + ch.Certificate
		if ch.Account != "" {
			title = "account " + ch.Account
			if ch.Certificate != "" {
				title += " (certificate " + ch.Certificate + ")"
			}
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		if len(ch.KeyBits) > 0 {
			bits := make([]string, len(ch.KeyBits))
			for i, b := range ch.KeyBits {
				bits[i] = fmt.Sprintf("%d", b)
			}
			fmt.Fprintf(w, "  keys:        %d (RSA %s bits)\n", len(ch.KeyBits), strings.Join(bits, ", "))
		}
		if ch.Certificate != "" || ch.Account == "" {
			v := "none"
			if len(ch.Verifying) > 0 {
				v = strings.Join(ch.Verifying, ", ") + "   (#key index)"
			}
			fmt.Fprintf(w, "  verifies:    %s\n", v)
			fmt.Fprintf(w, "  configured:  %s\n", strings.Join(ch.Configured, ", "))
		}
		switch {
		case ch.Accepted:
			fmt.Fprintf(w, "  the gateway: accepts it now\n")
		case ch.Reason != "":
			fmt.Fprintf(w, "  the gateway: refuses it: %s\n", ch.Error)
		case ch.Error != "":
			fmt.Fprintf(w, "  error:       %s\n", ch.Error)
		}
		if ch.Note != "" {
			fmt.Fprintf(w, "  note:        %s\n", ch.Note)
		}
		if ch.Pin != "" {
			fmt.Fprintf(w, "  pin:         corrigo.accounts.%s.webhook: {%s}\n", orName(ch.Account), ch.Pin)
		}
	}
	if rep.Accepted {
		fmt.Fprintf(w, "\nresult: accepted\n")
	} else {
		fmt.Fprintf(w, "\nresult: not accepted\n")
	}
}

func orName(s string) string {
	if s == "" {
		return "<name>"
	}
	return s
}

// ago says "in 17m0s" or "3m0s ago".
func ago(now, t time.Time) string {
	d := t.Sub(now).Round(time.Second)
	if d >= 0 {
		return "in " + d.String()
	}
	return (-d).String() + " ago"
}
