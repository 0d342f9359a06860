package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/rules"
	"github.com/wogate/wogate/pkg/corrigo"
)

// evalOptions are eval's flags.
type evalOptions struct{ when, event, workOrder, account, source, now string }

func (o *evalOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.when, "when", "", "the condition, as in a rule's when (required)")
	fs.StringVar(&o.event, "event", "", "a CorrigoPro notification as JSON, e.g. a webhook body (required)")
	fs.StringVar(&o.workOrder, "work-order", "", "the work order as JSON (workOrder in the condition); NewWorkOrder notifications carry it")
	fs.StringVar(&o.account, "account", "main", "the account the notification arrived for (account in the condition)")
	fs.StringVar(&o.source, "source", "webhook", "how it arrived: webhook, poll, reconcile (event.Source)")
	fs.StringVar(&o.now, "now", "", "the evaluation time, RFC 3339 (now in the condition); default the current time")
}

var evalCmd = &command{
	name:     "eval",
	summary:  "evaluate one rule condition against a notification",
	synopsis: "eval --when EXPR --event FILE.json [--work-order FILE.json] [--account NAME] [--source webhook|poll|reconcile] [--now TIME]",
	doc: `Compiles the condition the way a rule's when is compiled (the same
environment, functions, type checks and hints; docs/rules.md) and
evaluates it against the notification; prints true or false. For whole
rule sets with mocked plugins and expected actions, write a rule test
('gateway test').

Exit codes: 0 evaluated (true or false); 1 the condition does not
compile or fails, or a file does not decode; 2 usage.`,
	example: `gateway eval --when 'event.Action == "NewWorkOrder" && workOrder.Sla.IsEmergency' --event webhook.json`,
	flags:   func(fs *flag.FlagSet) { new(evalOptions).define(fs) },
}

func init() {
	evalCmd.run = func(ctx context.Context, args []string) int { return evalMain(ctx, args, os.Stdout, os.Stderr) }
	registerCommand(evalCmd)
}

// evalMain compiles one when condition as the gateway does and evaluates
// it against a stored or hand-written notification, printing true or
// false. Exit codes: 0 evaluated (true or false), 1 the condition does not
// compile or fails at run time, or a file does not decode; 2 usage.
func evalMain(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var o evalOptions
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	o.define(fs)
	pos, err := parseFlags(evalCmd, fs, args, stdout, stderr)
	if err != nil {
		return exitCode(err)
	}
	when, event, woPath, account, source, nowFlag := &o.when, &o.event, &o.workOrder, &o.account, &o.source, &o.now
	switch {
	case len(pos) > 0:
		return exitCode(usageError(evalCmd, stderr, "unexpected argument %q", pos[0]))
	case *when == "" || *event == "":
		return exitCode(usageError(evalCmd, stderr, "--when EXPR and --event FILE.json are required"))
	}
	var now time.Time
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339Nano, *nowFlag)
		if err != nil {
			return exitCode(usageError(evalCmd, stderr, "--now: want an RFC 3339 time such as 2026-01-02T15:04:05Z, not %q", *nowFlag))
		}
		now = t
	}
	set, err := rules.Compile([]config.Rule{{Name: "eval", When: *when, Plugin: "eval"}})
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			for _, e := range ce.Entries {
				fmt.Fprintf(stderr, "gateway eval: --when: %s\n", strings.TrimPrefix(e.Message, `rule "eval": `))
			}
			return 1
		}
		fmt.Fprintf(stderr, "gateway eval: %v\n", err)
		return 1
	}
	body, err := os.ReadFile(*event)
	if err != nil {
		fmt.Fprintf(stderr, "gateway eval: %v\n", err)
		return 1
	}
	n, err := corrigo.DecodeNotification(body)
	if err != nil {
		fmt.Fprintf(stderr, "gateway eval: %s: %v\n", *event, err)
		return 1
	}
	var wo *corrigo.WorkOrder
	if *woPath != "" {
		b, err := os.ReadFile(*woPath)
		if err != nil {
			fmt.Fprintf(stderr, "gateway eval: %v\n", err)
			return 1
		}
		wo = new(corrigo.WorkOrder)
		if err := json.Unmarshal(b, wo); err != nil {
			fmt.Fprintf(stderr, "gateway eval: %s: %v\n", *woPath, err)
			return 1
		}
	}
	d, err := set.Evaluate(rules.NewEnv(*account, *source, n, wo, now))
	if err != nil {
		fmt.Fprintf(stderr, "gateway eval: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, len(d.Matched) > 0)
	return 0
}
