package csvexport

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// writer appends rows to CSV files so that a crash at any moment leaves
// only whole rows behind and a row is never written twice.
//
//   - Every row carries the event id (the event id column). The first time
//     a file is touched in a process, it is read: the event ids it holds
//     become the file's index, and a torn tail (the part of a row a crash
//     cut short: bytes after the last complete record, an unterminated
//     quoted field, or a last line without its '\n') is truncated away.
//   - A row (plus the header when the file is new) is encoded in memory and
//     written with a single write(2) to a file opened O_APPEND, then
//     fsynced. A failed or short write is truncated back at once.
//   - Appending an event id that the file index already holds is a no-op,
//     which covers a crash between the row's fsync and the KV mark.
type writer struct {
	dir         string
	header      []string
	writeHeader bool
	idCol       int
	maxBytes    int64
	warn        func(msg string, kv ...any)
	headerLen   int64 // bytes of the encoded header row (0 without header)

	mu    sync.Mutex
	bases map[string]*baseState
}

// baseState is what the writer knows about one file name (all its
// rotation parts).
type baseState struct {
	ids  map[string]string // event id → part file (relative)
	part int               // active part number (1-based)
	size int64             // size of the active part as last seen
}

// maxBases bounds the cached file indexes; an evicted one is read again on
// next use.
const maxBases = 256

func newWriter(dir string, header []string, writeHeader bool, idCol int, maxBytes int64, warn func(string, ...any)) *writer {
	if warn == nil {
		warn = func(string, ...any) {}
	}
	w := &writer{
		dir: dir, header: header, writeHeader: writeHeader, idCol: idCol, maxBytes: maxBytes,
		warn: warn, bases: map[string]*baseState{},
	}
	if writeHeader {
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		_ = cw.Write(header)
		cw.Flush()
		w.headerLen = int64(buf.Len())
	}
	return w
}

// appendResult says where a row went.
type appendResult struct {
	File    string // relative path of the part written (or already holding the row)
	Written bool   // false when the event id was already in the file
}

// Append writes row (which holds eventID in the event id column) to the
// file rel, rotating to a new part when max_bytes would be exceeded.
func (w *writer) Append(rel, eventID string, row []string) (appendResult, error) {
	if w.idCol < 0 || w.idCol >= len(row) || row[w.idCol] != eventID {
		return appendResult{}, fmt.Errorf("row does not carry event id %q in column %d", eventID, w.idCol+1)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st, err := w.state(rel)
	if err != nil {
		return appendResult{}, err
	}
	if f, ok := st.ids[eventID]; ok {
		return appendResult{File: f}, nil
	}
	data, err := w.encode(row, st.size == 0)
	if err != nil {
		return appendResult{}, err
	}
	// Rotate only a part that holds at least one row, so a row bigger
	// than max_bytes gets a part of its own instead of a trail of
	// header-only files.
	if w.maxBytes > 0 && st.size > w.headerLen && st.size+int64(len(data)) > w.maxBytes {
		st.part++
		st.size = 0
		if data, err = w.encode(row, true); err != nil {
			return appendResult{}, err
		}
	}
	part := partName(rel, st.part)
	if err := w.appendBytes(part, st.size, data); err != nil {
		// The file may now differ from what we know: read it again next
		// time.
		delete(w.bases, rel)
		return appendResult{}, err
	}
	st.size += int64(len(data))
	st.ids[eventID] = part
	return appendResult{File: part, Written: true}, nil
}

// Contains reports whether the file rel (any part) holds eventID.
func (w *writer) Contains(rel, eventID string) (string, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, err := w.state(rel)
	if err != nil {
		return "", false, err
	}
	f, ok := st.ids[eventID]
	return f, ok, nil
}

// encode renders row (and the header first when withHeader) as CSV.
func (w *writer) encode(row []string, withHeader bool) ([]byte, error) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	if withHeader && w.writeHeader {
		if err := cw.Write(w.header); err != nil {
			return nil, fmt.Errorf("encode header: %w", err)
		}
	}
	if err := cw.Write(row); err != nil {
		return nil, fmt.Errorf("encode row: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return nil, fmt.Errorf("encode row: %w", err)
	}
	return buf.Bytes(), nil
}

// appendBytes writes data to part with one write and fsyncs it. want is
// the size the file must have before the write; a different size means
// someone else changed the file, which state() has already handled.
func (w *writer) appendBytes(part string, want int64, data []byte) error {
	path := filepath.Join(w.dir, part)
	parent := filepath.Dir(path)
	if err := os.MkdirAll(parent, 0o755); err != nil { //nolint:gosec // G301: the export directory is read by the ERP's import job
		return fmt.Errorf("create directory for %s: %w", part, err)
	}
	created := false
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		created = true
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644) //nolint:gosec // G302: export files are read by the ERP's import job
	if err != nil {
		return fmt.Errorf("open %s: %w", part, err)
	}
	n, werr := f.Write(data)
	if werr == nil && n != len(data) {
		werr = io.ErrShortWrite
	}
	if werr != nil {
		// Disk full or similar: take the partial row back out so the file
		// stays whole while this process lives.
		if n > 0 {
			_ = f.Truncate(want)
		}
		_ = f.Close()
		return fmt.Errorf("write %s: %w", part, werr)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("fsync %s: %w", part, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", part, err)
	}
	if created {
		// Make the new directory entry durable too.
		if err := syncDir(parent); err != nil {
			return fmt.Errorf("fsync directory of %s: %w", part, err)
		}
	}
	return nil
}

// state returns the (cached) state of rel, reading its parts from disk on
// first use or when the active part's size changed behind our back.
func (w *writer) state(rel string) (*baseState, error) {
	if st, ok := w.bases[rel]; ok {
		fi, err := os.Stat(filepath.Join(w.dir, partName(rel, st.part)))
		switch {
		case err == nil && fi.Size() == st.size:
			return st, nil
		case errors.Is(err, os.ErrNotExist) && st.size == 0:
			return st, nil
		}
		delete(w.bases, rel) // changed or removed by someone else: re-read
	}
	st, err := w.load(rel)
	if err != nil {
		return nil, err
	}
	if len(w.bases) >= maxBases {
		for k := range w.bases {
			delete(w.bases, k)
			break
		}
	}
	w.bases[rel] = st
	return st, nil
}

// load reads every existing part of rel, repairing torn tails.
func (w *writer) load(rel string) (*baseState, error) {
	st := &baseState{ids: map[string]string{}, part: 1}
	last := 0
	usable := true
	for n := 1; ; n++ {
		part := partName(rel, n)
		path := filepath.Join(w.dir, part)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("stat %s: %w", part, err)
		}
		res, err := scanFile(path, w.header, w.writeHeader, w.idCol)
		if err != nil {
			return nil, err
		}
		if res.tornBytes > 0 {
			if err := truncateFile(path, res.good); err != nil {
				return nil, fmt.Errorf("repair torn tail of %s: %w", part, err)
			}
			w.warn("removed a torn partial row left by a crash", "file", part, "bytes", res.tornBytes, "offset", res.good)
		}
		if res.problem != "" {
			w.warn("not appending to a file this plugin cannot safely extend; starting a new part", "file", part, "reason", res.problem)
		}
		for _, id := range res.ids {
			st.ids[id] = part
		}
		last, usable = n, res.problem == ""
		st.size = res.good
	}
	switch {
	case last == 0:
		st.part, st.size = 1, 0
	case usable:
		st.part = last
	default:
		st.part, st.size = last+1, 0
	}
	return st, nil
}

// scanResult is what scanFile found.
type scanResult struct {
	ids       []string
	good      int64 // offset just after the last complete record
	tornBytes int64 // bytes after good that are a crash's leftovers
	problem   string
}

// scanFile reads a CSV file written by this plugin. A parse error in the
// last record (or a last record without its newline) is a torn tail; a
// parse error followed by more records, or a header that differs from the
// configured columns, makes the file unusable for appending (problem).
func scanFile(path string, header []string, withHeader bool, idCol int) (scanResult, error) {
	f, err := os.Open(path) //nolint:gosec // G304: a file in the configured export directory
	if err != nil {
		return scanResult{}, fmt.Errorf("open %s: %w", path, err)
	}
	defer func() { _ = f.Close() }() // read-only
	fi, err := f.Stat()
	if err != nil {
		return scanResult{}, fmt.Errorf("stat %s: %w", path, err)
	}
	size := fi.Size()
	var res scanResult
	if size == 0 {
		return res, nil
	}
	r := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	first := true
	var pendingID string
	pending := false
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// Is there anything after the bad record? If the reader is
			// at the end the bad record was the last: a torn tail.
			if _, err2 := r.Read(); err2 == io.EOF {
				break
			}
			res.problem = fmt.Sprintf("malformed CSV before the end of the file: %v", err)
			res.good = size
			return res, nil
		}
		if pending {
			res.ids = append(res.ids, pendingID)
			pending = false
		}
		end := r.InputOffset()
		if first {
			first = false
			if withHeader {
				if !slices.Equal(rec, header) {
					if end == size && !endsWithNewline(f, size) {
						// A header cut short by a crash while creating
						// the file: nothing of value yet.
						res.tornBytes = size
						return res, nil
					}
					res.problem = "its header differs from the configured columns"
					res.good = size
					return res, nil
				}
				res.good = end
				continue
			}
		}
		if idCol < len(rec) {
			pendingID, pending = rec[idCol], true
		}
		res.good = end
	}
	if res.good > 0 && !endsWithNewline(f, res.good) {
		// The last record lacks its newline: a cut-short write that
		// happened to end between fields. Drop it.
		pending = false
		res.good = lastRecordStart(path, res.good)
	}
	if pending {
		res.ids = append(res.ids, pendingID)
	}
	res.tornBytes = size - res.good
	return res, nil
}

// endsWithNewline reports whether the byte before offset end is '\n'.
func endsWithNewline(f *os.File, end int64) bool {
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, end-1); err != nil {
		return false
	}
	return b[0] == '\n'
}

// lastRecordStart returns the offset just after the last '\n' before end
// (0 when there is none). A record's own newlines are always inside
// quotes, but the record that ends at end has no final newline, so the
// newline that precedes it outside quotes is the last one that ends a
// complete record: re-scan to find it.
func lastRecordStart(path string, end int64) int64 {
	f, err := os.Open(path) //nolint:gosec // G304: a file in the configured export directory
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }() // read-only
	r := csv.NewReader(bufio.NewReader(io.LimitReader(f, end)))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	var prev, cur int64
	for {
		if _, err := r.Read(); err != nil {
			break
		}
		prev, cur = cur, r.InputOffset()
	}
	return prev
}

// truncateFile cuts path to size and fsyncs it.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0) //nolint:gosec // G304: a file in the configured export directory
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// syncDir fsyncs a directory so that entries created or renamed in it
// survive a power cut.
func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // G304: a file in the configured export directory
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
