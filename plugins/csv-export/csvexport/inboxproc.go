package csvexport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wogate/wogate/pkg/pluginapi"
)

// ActionSubmitter is what the gateway must offer for the inbox folder to
// send actions on its own (a plugin has no event to answer when a file
// appears). The plugin finds it by a type assertion on its Host.
//
// Contract: SubmitActions durably queues actions for account (in the
// gateway's outbox, as if an event had produced them) before it returns
// nil. key is an idempotency key: a second call with the same key is a
// no-op that returns nil, so the plugin can repeat a call a crash
// interrupted without sending anything twice. An *pluginapi.Error with
// Retryable false means the actions can never be queued (unknown account,
// invalid action); any other error means "try again later".
type ActionSubmitter interface {
	SubmitActions(ctx context.Context, account, key string, actions []pluginapi.Action) error
}

// inbox processes CSV files of updates.
type inbox struct {
	cfg  *Config
	host pluginapi.Host
	sink ActionSubmitter // nil when the host cannot take actions on its own
	now  func() time.Time

	mu sync.Mutex // one file at a time: processing is not reentrant
}

// Sub-directories of the inbox.
const (
	processedDir = "processed"
	rejectedDir  = "rejected"
)

func newInbox(c *Config, host pluginapi.Host, now func() time.Time) (*inbox, error) {
	for _, d := range []string{c.Inbox, filepath.Join(c.Inbox, processedDir), filepath.Join(c.Inbox, rejectedDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil { //nolint:gosec // G301: the inbox is shared with the ERP's export job
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	ib := &inbox{cfg: c, host: host, now: now}
	if s, ok := host.(ActionSubmitter); ok {
		ib.sink = s
	}
	return ib, nil
}

// run scans the inbox every InboxPoll until ctx ends.
func (ib *inbox) run(ctx context.Context) {
	t := time.NewTicker(ib.cfg.InboxPoll)
	defer t.Stop()
	for {
		if _, err := ib.scan(ctx, ib.sink, ""); err != nil && ctx.Err() == nil {
			ib.host.Log(ctx, "warn", "inbox scan stopped early; retrying at the next poll", "err", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// fileOutcome summarises one processed file.
type fileOutcome struct {
	File     string
	Hash     string
	Actions  int  // actions sent (or handed back) by this call
	Rejected int  // rejected rows
	Already  bool // this exact content was processed before
	FileErr  string
	Report   []byte // the errors report (CSV), nil when nothing was rejected
}

// scan processes every settled CSV file in the inbox, oldest first. It
// stops at the first error that a retry may fix (the gateway is down),
// leaving the rest for the next scan. account, when set, is the account
// every action goes to (inbound paths, where the gateway decides it).
func (ib *inbox) scan(ctx context.Context, sink ActionSubmitter, account string) ([]fileOutcome, error) {
	files, err := ib.ready()
	if err != nil {
		return nil, err
	}
	var out []fileOutcome
	for _, name := range files {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		data, err := readLimited(filepath.Join(ib.cfg.Inbox, name), ib.cfg.InboxMaxBytes)
		if errors.Is(err, os.ErrNotExist) {
			continue // taken away meanwhile
		}
		var fo fileOutcome
		if errors.Is(err, errTooBig) {
			fo, err = ib.process(ctx, sink, name, nil, true, account, fmt.Errorf("file is larger than inbox_max_bytes (%d bytes)", ib.cfg.InboxMaxBytes))
		} else if err != nil {
			return out, fmt.Errorf("read %s: %w", name, err)
		} else {
			fo, err = ib.process(ctx, sink, name, data, true, account, nil)
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, fo)
	}
	return out, nil
}

// ready lists the inbox's CSV files that have not changed for
// InboxSettle, oldest first.
func (ib *inbox) ready() ([]string, error) {
	entries, err := os.ReadDir(ib.cfg.Inbox)
	if err != nil {
		return nil, fmt.Errorf("list inbox: %w", err)
	}
	type f struct {
		name string
		mod  time.Time
	}
	var fs []f
	now := ib.now()
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~$") ||
			!strings.EqualFold(filepath.Ext(name), ".csv") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if now.Sub(info.ModTime()) < ib.cfg.InboxSettle {
			continue // still being written, perhaps
		}
		fs = append(fs, f{name, info.ModTime()})
	}
	sort.Slice(fs, func(i, j int) bool {
		if !fs[i].mod.Equal(fs[j].mod) {
			return fs[i].mod.Before(fs[j].mod)
		}
		return fs[i].name < fs[j].name
	})
	names := make([]string, len(fs))
	for i, x := range fs {
		names[i] = x.name
	}
	return names, nil
}

// fileState is the KV record inbox:<sha256> of one file content. It makes
// processing resumable: after a crash the same content is parsed again
// (with the same ParsedAt, so the result is the same) and actions whose
// first line is below NextLine are not sent again.
type fileState struct {
	File      string       `json:"file"`
	State     string       `json:"state"` // "applying" or "done"
	ParsedAt  time.Time    `json:"parsedAt"`
	NextLine  int          `json:"nextLine"`
	Sent      int          `json:"sent"`
	Processed string       `json:"processed,omitempty"` // name under processed/
	Rejected  string       `json:"rejected,omitempty"`  // name under rejected/
	Late      []lateReject `json:"late,omitempty"`      // actions the gateway refused
	EventID   string       `json:"eventId,omitempty"`   // inbound event that claimed the content
	Updated   time.Time    `json:"updated"`
}

type lateReject struct {
	Lines  []int  `json:"lines"`
	Reason string `json:"reason"`
}

func stateKey(hash string) string { return "inbox:" + hash }

// process applies one file's content. fromFolder moves the file out of the
// inbox when done. fileErr, when set, rejects the whole file.
func (ib *inbox) process(ctx context.Context, sink ActionSubmitter, name string, data []byte, fromFolder bool, account string, fileErr error) (fileOutcome, error) {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	sum := sha256.Sum256(data)
	if fileErr != nil {
		// Too big to read: key by name and size instead of content.
		fi, _ := os.Stat(filepath.Join(ib.cfg.Inbox, name))
		var size int64
		if fi != nil {
			size = fi.Size()
		}
		sum = sha256.Sum256([]byte("too-big\x00" + name + "\x00" + strconv.FormatInt(size, 10)))
	}
	hash := hex.EncodeToString(sum[:])
	fo := fileOutcome{File: name, Hash: hash}
	st, err := ib.loadState(ctx, hash)
	if err != nil {
		return fo, err
	}
	if st.State == "done" {
		fo.Already = true
		ib.host.Log(ctx, "info", "inbox file has the same content as one already processed; not applying it again",
			"file", name, "first_seen_as", st.File, "processed_at", st.Updated.Format(time.RFC3339))
		if fromFolder {
			return fo, ib.moveOut(name, hash, processedDir, "")
		}
		return fo, nil
	}
	if st.State == "" {
		st = fileState{File: name, State: "applying", ParsedAt: ib.now().UTC()}
		if fromFolder {
			st.Processed = freeName(filepath.Join(ib.cfg.Inbox, processedDir), name, hash)
			st.Rejected = freeName(filepath.Join(ib.cfg.Inbox, rejectedDir), name, hash)
		} else {
			st.Rejected = name
		}
		if err := ib.saveState(ctx, hash, &st); err != nil {
			return fo, err
		}
	}

	var res inboxParse
	if fileErr != nil {
		res.FileErr = fileErr
	} else {
		res = parseInbox(data, ib.cfg.Location, st.ParsedAt)
	}
	if res.FileErr != nil {
		fo.FileErr = res.FileErr.Error()
		ib.host.Log(ctx, "warn", "inbox file rejected whole; nothing of it was applied", "file", name, "reason", fo.FileErr)
		fo.Report = errorsReport(name, []rowError{{Line: 0, Reason: fo.FileErr}})
		if fromFolder {
			if err := writeFileAtomic(filepath.Join(ib.cfg.Inbox, rejectedDir, st.Rejected+".errors.csv"), fo.Report); err != nil {
				return fo, err
			}
		}
		st.State = "done"
		if err := ib.saveState(ctx, hash, &st); err != nil {
			return fo, err
		}
		if fromFolder {
			return fo, ib.moveOut(name, hash, rejectedDir, st.Rejected)
		}
		return fo, nil
	}

	rejected := res.Rejected
	for _, a := range res.Actions {
		first := a.Lines[0]
		acct, reason := ib.resolveAccount(ctx, a, account)
		if reason != "" {
			rejected = append(rejected, rejectLines(res, a.Lines, reason)...)
			continue
		}
		if first < st.NextLine {
			continue // sent before a crash
		}
		key := "csv-inbox:" + hash + ":" + strconv.Itoa(first)
		if err := sink.SubmitActions(ctx, acct, key, []pluginapi.Action{a.Action}); err != nil {
			var pe *pluginapi.Error
			if !errors.As(err, &pe) || pe.Retryable {
				return fo, fmt.Errorf("line %d: send %s: %w", first, a.Action.Kind, err)
			}
			st.Late = append(st.Late, lateReject{Lines: a.Lines, Reason: "refused by the gateway: " + pe.Message})
		} else {
			st.Sent++
			fo.Actions++
		}
		st.NextLine = first + 1
		if err := ib.saveState(ctx, hash, &st); err != nil {
			return fo, err
		}
	}
	for _, l := range st.Late {
		rejected = append(rejected, rejectLines(res, l.Lines, l.Reason)...)
	}
	sortRejected(rejected)
	fo.Rejected = len(rejected)
	logged := 0
	for _, r := range rejected {
		if logged == 50 {
			ib.host.Log(ctx, "warn", "more inbox rows rejected; see the errors report", "file", name, "rejected", len(rejected))
			break
		}
		ib.host.Log(ctx, "warn", "inbox row rejected", "file", name, "line", r.Line, "reason", r.Reason)
		logged++
	}
	if len(rejected) > 0 {
		fo.Report = errorsReport(name, rejected)
		if fromFolder {
			dir := filepath.Join(ib.cfg.Inbox, rejectedDir)
			if err := writeFileAtomic(filepath.Join(dir, st.Rejected), rejectedFile(res, rejected)); err != nil {
				return fo, err
			}
			if err := writeFileAtomic(filepath.Join(dir, st.Rejected+".errors.csv"), fo.Report); err != nil {
				return fo, err
			}
		}
	}
	st.State = "done"
	if err := ib.saveState(ctx, hash, &st); err != nil {
		return fo, err
	}
	ib.host.Log(ctx, "info", "inbox file processed", "file", name, "rows", res.Rows, "actions", st.Sent, "rejected", len(rejected))
	if fromFolder {
		return fo, ib.moveOut(name, hash, processedDir, st.Processed)
	}
	return fo, nil
}

// claimForEvent records that the inbound event eventID carries data. It
// returns false when another event (or the inbox) already processed the
// same content.
func (ib *inbox) claimForEvent(ctx context.Context, data []byte, eventID string) (bool, error) {
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	st, err := ib.loadState(ctx, hash)
	if err != nil {
		return false, err
	}
	switch {
	case st.State == "":
		st = fileState{File: "event " + eventID, State: "done", EventID: eventID, ParsedAt: ib.now().UTC()}
		return true, ib.saveState(ctx, hash, &st)
	case st.EventID == eventID:
		return true, nil
	}
	return false, nil
}

// processEvent turns an inbound event's CSV into actions. It keeps no
// progress: the gateway's event store makes a redelivery give the same
// actions, which its outbox does not send twice.
func (ib *inbox) processEvent(ctx context.Context, sink ActionSubmitter, name string, data []byte, account string) (fileOutcome, error) {
	fo := fileOutcome{File: name}
	res := parseInbox(data, ib.cfg.Location, ib.now())
	if res.FileErr != nil {
		fo.FileErr = res.FileErr.Error()
		ib.host.Log(ctx, "warn", "inbound file rejected whole; nothing of it was applied", "file", name, "reason", fo.FileErr)
		return fo, nil //nolint:nilerr // a rejected file is an outcome, reported in fo
	}
	rejected := res.Rejected
	for _, a := range res.Actions {
		acct, reason := ib.resolveAccount(ctx, a, account)
		if reason != "" {
			rejected = append(rejected, rejectLines(res, a.Lines, reason)...)
			continue
		}
		if err := sink.SubmitActions(ctx, acct, "", []pluginapi.Action{a.Action}); err != nil {
			return fo, err
		}
		fo.Actions++
	}
	sortRejected(rejected)
	fo.Rejected = len(rejected)
	for i, r := range rejected {
		if i == 50 {
			break
		}
		ib.host.Log(ctx, "warn", "inbound row rejected", "file", name, "line", r.Line, "reason", r.Reason)
	}
	return fo, nil
}

// resolveAccount picks the account an action goes to: fixed (inbound
// paths), else the row's account column, else the account of the work
// order as remembered from an event, else inbox_account.
func (ib *inbox) resolveAccount(ctx context.Context, a inboxAction, fixed string) (string, string) {
	if fixed == anyAccount {
		return a.Account, ""
	}
	if fixed != "" {
		if a.Account != "" && a.Account != fixed {
			return "", fmt.Sprintf("account %q differs from the account %q this file was sent for", a.Account, fixed)
		}
		return fixed, ""
	}
	if a.Account != "" {
		return a.Account, ""
	}
	b, found, err := ib.host.KVGet(ctx, woKey(a.Action.WorkOrderID))
	if err == nil && found {
		var wc woCache
		if json.Unmarshal(b, &wc) == nil && wc.Account != "" {
			return wc.Account, ""
		}
	}
	if ib.cfg.InboxAccount != "" {
		return ib.cfg.InboxAccount, ""
	}
	return "", fmt.Sprintf("no account known for work order %d: add an account column or set inbox_account", a.Action.WorkOrderID)
}

// rejectLines turns the lines of an action into rejected rows.
func rejectLines(res inboxParse, lines []int, reason string) []rowError {
	out := make([]rowError, 0, len(lines))
	for _, l := range lines {
		r, ok := res.rows[l]
		if !ok {
			r = rowError{Line: l}
		}
		r.Reason = reason
		out = append(out, r)
	}
	return out
}

func (ib *inbox) loadState(ctx context.Context, hash string) (fileState, error) {
	b, found, err := ib.host.KVGet(ctx, stateKey(hash))
	if err != nil {
		return fileState{}, fmt.Errorf("read inbox state: %w", err)
	}
	var st fileState
	if found {
		if err := json.Unmarshal(b, &st); err != nil {
			return fileState{}, fmt.Errorf("inbox state %s is corrupt: %w", hash, err)
		}
	}
	return st, nil
}

func (ib *inbox) saveState(ctx context.Context, hash string, st *fileState) error {
	st.Updated = ib.now().UTC()
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode inbox state: %w", err)
	}
	if err := ib.host.KVPut(ctx, stateKey(hash), b); err != nil {
		return fmt.Errorf("save inbox state: %w", err)
	}
	return nil
}

// moveOut renames inbox/name to inbox/sub/target, unless the file's
// content changed since it was read (then it is left for the next scan).
func (ib *inbox) moveOut(name, hash, sub, target string) error {
	src := filepath.Join(ib.cfg.Inbox, name)
	data, err := readLimited(src, ib.cfg.InboxMaxBytes)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err == nil:
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != hash {
			return nil // replaced by a new version: a new file to process
		}
	case !errors.Is(err, errTooBig):
		return fmt.Errorf("re-read %s: %w", name, err)
	}
	dir := filepath.Join(ib.cfg.Inbox, sub)
	if target == "" {
		target = freeName(dir, name, hash)
	}
	if err := os.Rename(src, filepath.Join(dir, target)); err != nil {
		return fmt.Errorf("move %s to %s/: %w", name, sub, err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return syncDir(ib.cfg.Inbox)
}

// maxOutName is the longest name a file gets under processed/ or
// rejected/: the rejected copy is written through a temporary file
// ".tmp-<name>-<up to 10 digits>" and gets a "<name>.errors.csv" report
// beside it, and each must fit the 255 bytes file systems allow a name.
const maxOutName = 255 - len(".tmp-") - len("-4294967295") - len(".errors.csv")

// freeName returns name if dir has no such file, else name with a piece
// of the content hash before the extension. A name longer than maxOutName
// is cut (on a rune boundary) and gets the hash piece too, so a file with a
// long name still leaves the inbox instead of failing every scan.
func freeName(dir, name, hash string) string {
	if len(name) <= maxOutName {
		if _, err := os.Lstat(filepath.Join(dir, name)); errors.Is(err, os.ErrNotExist) {
			return name
		}
	}
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	if len(ext) > 16 {
		ext = ""
		stem = name
	}
	if room := maxOutName - len(ext) - 13; len(stem) > room {
		cut := room
		for cut > 0 && !utf8.RuneStart(stem[cut]) {
			cut--
		}
		stem = stem[:cut]
	}
	return stem + "-" + hash[:12] + ext
}

var errTooBig = errors.New("file too big")

func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: a file in the configured inbox
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, errTooBig
	}
	return data, nil
}

// errorsReport renders the <file>.errors.csv report: file, line, work
// order, action and reason of every rejected row.
func errorsReport(file string, rows []rowError) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"file", "line", "work_order_id", "action", "reason"})
	for _, r := range rows {
		line := ""
		if r.Line > 0 {
			line = strconv.Itoa(r.Line)
		}
		_ = w.Write([]string{file, line, r.WorkOrderID, r.Action, r.Reason})
	}
	w.Flush()
	return buf.Bytes()
}

// rejectedFile renders the rejected rows as an inbox file of their own,
// with the original header plus an error column, so the provider can fix
// the rows and drop the file back into the inbox.
func rejectedFile(res inboxParse, rows []rowError) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if res.Comma != 0 {
		w.Comma = res.Comma
	}
	header := append([]string(nil), res.Header...)
	errCol := -1
	for i, h := range header {
		if normalizeName(h) == "error" {
			errCol = i
		}
	}
	if errCol < 0 {
		header = append(header, "error")
		errCol = len(header) - 1
	}
	_ = w.Write(header)
	for _, r := range rows {
		rec := make([]string, len(header))
		copy(rec, r.Record)
		reason := fmt.Sprintf("line %d: %s", r.Line, r.Reason)
		if r.Record == nil && r.Raw != "" {
			reason += "; the row was: " + r.Raw
		}
		rec[errCol] = reason
		_ = w.Write(rec)
	}
	w.Flush()
	return buf.Bytes()
}

// writeFileAtomic writes data to path through a temporary file, fsync and
// rename, so a reader never sees half a report.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return syncDir(dir)
}

// ensureWritableDir creates dir and checks a file can be created in it.
func ensureWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // G301: the inbox is shared with the ERP's export job
		return err
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// collector is an ActionSubmitter that keeps actions to hand back in an
// inbound answer (HandleInbound), where the gateway executes them.
type collector struct {
	actions []pluginapi.Action
}

func (c *collector) SubmitActions(_ context.Context, _, _ string, actions []pluginapi.Action) error {
	c.actions = append(c.actions, actions...)
	return nil
}
