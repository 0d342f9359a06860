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

func init() {
	register("eval", "evaluate one rule condition against a notification", func(ctx context.Context, args []string) int {
		return evalMain(ctx, args, os.Stdout, os.Stderr)
	})
}

// evalMain compiles one `when` condition as the gateway does (the same
// environment, functions and type checks) and evaluates it against a
// stored or hand-written notification, printing true or false. Exit codes:
// 0 evaluated (true or false), 1 the condition does not compile or fails
// at run time, or a file does not decode; 2 usage.
func evalMain(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	when := fs.String("when", "", "the condition, as in a rule's when (required)")
	event := fs.String("event", "", "a CorrigoPro notification as JSON, e.g. a webhook body (required)")
	woPath := fs.String("work-order", "", "the work order as JSON (workOrder in the condition); NewWorkOrder notifications carry it")
	account := fs.String("account", "main", "the account the notification arrived for (event.Account)")
	source := fs.String("source", "webhook", "how it arrived: webhook, poll, reconcile (event.Source)")
	nowFlag := fs.String("now", "", "the evaluation time, RFC 3339 (now() in the condition); default the current time")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gateway eval --when EXPR --event FILE.json [--work-order FILE.json] [--account NAME] [--source webhook|poll|reconcile] [--now TIME]\n\n"+
			"Compiles the condition the way a rule's when is compiled (docs/rules.md) and\n"+
			"evaluates it against the notification; prints true or false. To try a\n"+
			"mapping of rules and plugins end to end, write a rule test (gateway test).\n"+
			"Exit 0: evaluated; 1: the condition or a file is bad; 2: usage.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *when == "" || *event == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	var now time.Time
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339Nano, *nowFlag)
		if err != nil {
			fmt.Fprintf(stderr, "gateway eval: --now: want an RFC 3339 time such as 2026-01-02T15:04:05Z, not %q\n", *nowFlag)
			return 2
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
