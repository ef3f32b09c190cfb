// Package csv is the source adapter for CSV exports from HR and WFM tools.
//
// A file is read in full on every Fetch (or Stream, which hands each row over
// as it is parsed instead of holding every record), and parsed as it is
// read: its bytes are never all held at once. It must be RFC 4180 CSV (quoted fields
// may hold the delimiter, quotes and newlines), UTF-8 with or without a byte
// order mark, with CRLF or LF line ends, and start with a header row. Column
// names are trimmed and matched case-insensitively; every column becomes an
// attribute of the record with one trimmed value.
//
// A structurally broken file (missing column, unbalanced quote, wrong field
// count, empty or duplicate key, invalid UTF-8, empty file) is rejected whole:
// Fetch returns every problem found, each as a *FileError naming the file and
// line, and no records. A file that changed while it was read, or that holds
// fewer rows than Config.MinRows, yields a snapshot marked incomplete, so no
// departure is inferred from it.
package csv

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	stdcsv "encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rostersync/rostersync/config/block"
	"github.com/rostersync/rostersync/config/safefile"
	"github.com/rostersync/rostersync/sources"
)

// maxProblems bounds how many structural problems one Fetch reports.
const maxProblems = 20

// Config configures one CSV source.
type Config struct {
	// Path is the file to read.
	Path string
	// Delimiter separates fields; zero means ','.
	Delimiter rune
	// Key names the column holding each person's stable key (required).
	Key string
	// Required lists the columns the mapping references; the caller derives
	// it from the mapping. A file without one of them is rejected.
	Required []string
	// MinRows is the fewest data rows a complete file holds; fewer marks the
	// snapshot incomplete. Zero means no minimum.
	MinRows int
	// MaxBytes caps the file's size: a larger file (or anything but a
	// regular file, such as a device or a FIFO) is refused before it is
	// read. Zero means DefaultMaxBytes.
	MaxBytes int64
}

// DefaultMaxBytes is the default of Config.MaxBytes: 256 MiB, about a
// million rows of a wide HR export.
const DefaultMaxBytes = 256 << 20

// Source reads one CSV file. It implements sources.Source.
type Source struct {
	name string
	cfg  Config
}

var _ sources.Source = (*Source)(nil)

// New validates cfg and returns a Source. It does no I/O.
func New(name string, cfg Config) (*Source, error) {
	var p block.Problems
	if strings.TrimSpace(name) == "" {
		p.Add("name", "required")
	}
	cfg.check(&p, "")
	if err := p.Err(); err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	if cfg.Delimiter == 0 {
		cfg.Delimiter = ','
	}
	cfg.Required = append([]string(nil), cfg.Required...)
	return &Source{name: name, cfg: cfg}, nil
}

func validDelim(r rune) bool {
	return r != 0 && r != '"' && r != '\r' && r != '\n' && r != 0xFEFF &&
		utf8.ValidRune(r) && r != utf8.RuneError
}

// Name returns the configured name.
func (s *Source) Name() string { return s.name }

// Fetch reads the whole file.
func (s *Source) Fetch(ctx context.Context) (*sources.Snapshot, error) {
	var recs []sources.Record
	h, err := s.read(ctx, false, func(r *sources.Record) { recs = append(recs, *r) })
	if err != nil {
		return nil, err
	}
	return &sources.Snapshot{Source: s.name, Records: recs, Health: h}, nil
}

// Stream reads the whole file as Fetch does, handing each row over as it is
// parsed instead of holding them all: the record and its Attrs map are
// reused for the next row. A structurally broken file still fails whole:
// Stream returns every problem found, and stops handing rows over at the
// first one (the caller discards what it had, as the pass is aborted).
func (s *Source) Stream(ctx context.Context, fn func(*sources.Record) error) (sources.Health, error) {
	var fnErr error
	h, err := s.read(ctx, true, func(r *sources.Record) {
		if fnErr == nil {
			fnErr = fn(r)
		}
	})
	if err == nil {
		err = fnErr
	}
	return h, err
}

var _ sources.Streamer = (*Source)(nil)

// read reads and parses the file, calling emit for each good row (with a
// reused record when reuse is set), and returns the file's health.
func (s *Source) read(ctx context.Context, reuse bool, emit func(*sources.Record)) (sources.Health, error) {
	if err := ctx.Err(); err != nil {
		return sources.Health{}, err
	}
	limit := cmp.Or(s.cfg.MaxBytes, DefaultMaxBytes)
	f, before, err := safefile.Open(s.cfg.Path, limit)
	if errors.Is(err, safefile.ErrTooLarge) {
		return sources.Health{}, fmt.Errorf("source %s: %w (raise csv.max_bytes to read it)", s.name, err)
	}
	if err != nil {
		return sources.Health{}, fmt.Errorf("source %s: %w", s.name, err)
	}
	defer f.Close()
	in := &countReader{r: safefile.LimitReader(f, limit)}
	n, err := scan(s.cfg, in, before.Size(), reuse, emit)
	if errors.Is(err, safefile.ErrTooLarge) {
		return sources.Health{}, fmt.Errorf("source %s: %w (raise csv.max_bytes to read it)", s.name, err)
	}
	if err != nil {
		return sources.Health{}, fmt.Errorf("source %s: %w", s.name, err)
	}
	if testHookAfterRead != nil {
		testHookAfterRead(s.cfg.Path)
	}
	h := sources.Health{Complete: true, Count: n}
	var reasons []string
	after, err := os.Stat(s.cfg.Path)
	switch {
	case err != nil:
		reasons = append(reasons, fmt.Sprintf("file changed while read: %v", err))
	case changed(before, after) || in.n != before.Size():
		reasons = append(reasons, fmt.Sprintf("file changed while read (size %d → %d bytes, modified %s → %s)",
			before.Size(), after.Size(), before.ModTime().Format(time.RFC3339Nano), after.ModTime().Format(time.RFC3339Nano)))
	}
	if s.cfg.MinRows > 0 && n < s.cfg.MinRows {
		reasons = append(reasons, fmt.Sprintf("read %d rows, fewer than min_rows %d", n, s.cfg.MinRows))
	}
	if len(reasons) > 0 {
		h.Complete = false
		h.Reason = strings.Join(reasons, "; ")
	}
	return h, nil
}

func changed(a, b os.FileInfo) bool {
	return a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime())
}

// readBufSize is how much of a file is read at a time; tests lower it to
// cut lines and runes across reads.
var readBufSize = 64 << 10

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// testHookAfterRead, when set by a test, runs between reading the file and
// checking it again.
var testHookAfterRead func(path string)

// FileError is one structural problem in a file.
type FileError struct {
	Path string
	Line int // 0 when the problem is the file as a whole
	Msg  string
}

func (e *FileError) Error() string {
	if e.Line == 0 {
		return e.Path + ": " + e.Msg
	}
	return e.Path + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}

// problems collects at most maxProblems file errors.
type problems struct {
	path string
	errs []error
	more int
}

func (p *problems) add(line int, format string, args ...any) {
	if len(p.errs) >= maxProblems {
		p.more++
		return
	}
	p.errs = append(p.errs, &FileError{Path: p.path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	errs := p.errs
	if p.more > 0 {
		errs = append(errs[:len(errs):len(errs)], &FileError{Path: p.path, Msg: fmt.Sprintf("%d more problems not shown", p.more)})
	}
	return errors.Join(errs...)
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// parse turns the file's bytes into records, or returns every structural
// problem found and no records.
func parse(cfg Config, data []byte) ([]sources.Record, error) {
	var recs []sources.Record
	if _, err := scan(cfg, bytes.NewReader(data), int64(len(data)), false, func(r *sources.Record) { recs = append(recs, *r) }); err != nil {
		return nil, err
	}
	return recs, nil
}

// scan parses the file's bytes as they are read from in (size bytes, as
// far as is known), calling emit for each good row until the first problem,
// and returns the number of good rows or every structural problem found.
// With reuse, the record and its Attrs map passed to emit are reused for the
// next row (the strings in them are not).
//
// A file holding bytes that are not UTF-8 is reported by those lines alone,
// whatever else is wrong with it: the rest of the file is read to find them.
func scan(cfg Config, in io.Reader, size int64, reuse bool, emit func(*sources.Record)) (int, error) {
	if cfg.Delimiter == 0 {
		cfg.Delimiter = ','
	}
	br := bufio.NewReaderSize(in, readBufSize)
	if b, _ := br.Peek(len(bom)); bytes.Equal(b, bom) {
		_, _ = br.Discard(len(bom))
	}
	// About as many lines as the start of the file suggests, to size the
	// key map once: grown one doubling at a time to a million keys, a map
	// spends longer splitting its tables than filling them.
	head, _ := br.Peek(br.Size())
	lines := 0
	if nl := bytes.Count(head, []byte{'\n'}); len(head) > 0 {
		lines = int(int64(nl+1) * max(size, int64(len(head))) / int64(len(head)))
	}
	u := newUTF8Lines(br)
	n, err := scanRows(cfg, u, lines, reuse, emit)
	// A read error ends the scan whatever it found; a file too large is
	// that, even where the rows before its end had problems of their own.
	if derr := u.drain(); derr != nil && (err == nil || errors.Is(derr, safefile.ErrTooLarge)) {
		return 0, derr
	}
	if len(u.invalid) > 0 {
		p := &problems{path: cfg.Path}
		for _, l := range u.invalid {
			p.add(l, "invalid UTF-8 (save the export as UTF-8)")
		}
		return 0, p.err()
	}
	return n, err
}

// scanRows parses the rows of u; see scan.
func scanRows(cfg Config, u *utf8Lines, lines int, reuse bool, emit func(*sources.Record)) (int, error) {
	p := &problems{path: cfg.Path}
	r := stdcsv.NewReader(u)
	r.Comma = cfg.Delimiter
	r.FieldsPerRecord = -1 // counted here, so every bad row is reported
	r.ReuseRecord = false

	header, err := r.Read()
	headerLine := 1
	if err == nil {
		headerLine, _ = r.FieldPos(0)
	}
	if err == io.EOF || err == nil && blank(header) && restBlank(r) {
		p.add(0, "empty file: expected a header row naming the columns")
		return 0, p.err()
	}
	if err != nil {
		if errors.Is(err, safefile.ErrTooLarge) {
			return 0, err
		}
		csvError(p, err, cfg.Delimiter)
		return 0, p.err()
	}
	cols := make([]string, len(header))
	seen := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		cols[i] = h
		if h == "" {
			continue // an unnamed column (a trailing delimiter) is ignored
		}
		k := strings.ToLower(h)
		if j, ok := seen[k]; ok {
			p.add(headerLine, "duplicate column %q (columns %d and %d)", h, j+1, i+1)
			continue
		}
		seen[k] = i
	}
	keyCol, ok := seen[strings.ToLower(strings.TrimSpace(cfg.Key))]
	if !ok {
		p.add(headerLine, "missing key column %q (found: %s)", strings.TrimSpace(cfg.Key), foundList(cols))
	}
	var missing []string
	for _, req := range cfg.Required {
		req = strings.TrimSpace(req)
		if _, ok := seen[strings.ToLower(req)]; !ok && req != "" && !strings.EqualFold(req, cfg.Key) {
			missing = append(missing, strconv.Quote(req))
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		p.add(headerLine, "missing required column %s (found: %s)", missing[0], foundList(cols))
	default:
		p.add(headerLine, "missing required columns %s (found: %s)", strings.Join(missing, ", "), foundList(cols))
	}
	if len(p.errs) > 0 {
		return 0, p.err()
	}

	base := filepath.Base(cfg.Path)
	n := 0
	// Sized for every line up front: grown one doubling at a time to a
	// million keys, the map spends longer splitting its tables than filling them.
	keyLine := make(map[string]int, min(lines, 1<<21)) // an estimate: bounded, past it the map grows
	var rec sources.Record
	var attrs map[string][]string
	var vals []string
	for {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if errors.Is(err, safefile.ErrTooLarge) {
			return 0, err
		}
		if err != nil {
			csvError(p, err, cfg.Delimiter)
			var pe *stdcsv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, stdcsv.ErrQuote) {
				break // nothing after an unbalanced quote can be trusted
			}
			continue
		}
		line, _ := r.FieldPos(0)
		if len(row) != len(cols) {
			p.add(line, "row has %d fields, the header has %d (quote values that contain %q)", len(row), len(cols), cfg.Delimiter)
			continue
		}
		key := strings.TrimSpace(row[keyCol])
		if key == "" {
			p.add(line, "empty key in column %q", cols[keyCol])
			continue
		}
		if first, dup := keyLine[key]; dup {
			p.add(line, "duplicate key %q (first on line %d)", key, first)
			continue
		}
		keyLine[key] = line
		n++
		if len(p.errs) > 0 || p.more > 0 || len(u.invalid) > 0 {
			continue // the file is rejected whole: no more rows are handed over
		}
		if attrs == nil || !reuse {
			attrs = make(map[string][]string, len(cols))
			vals = make([]string, len(cols)) // one allocation for the row's one-value slices
		}
		for i, c := range cols {
			if c == "" {
				continue
			}
			vals[i] = strings.TrimSpace(row[i])
			attrs[c] = vals[i : i+1 : i+1]
		}
		rec = sources.Record{Key: key, Attrs: attrs, Origin: base + ":" + strconv.Itoa(line)}
		emit(&rec)
	}
	if err := p.err(); err != nil {
		return 0, err
	}
	return n, nil
}

func foundList(cols []string) string {
	var names []string
	for _, c := range cols {
		if c != "" {
			names = append(names, c)
		}
	}
	if len(names) == 0 {
		return "no named columns"
	}
	return strings.Join(names, ", ")
}

// csvError turns an encoding/csv error into a FileError.
func csvError(p *problems, err error, delim rune) {
	var pe *stdcsv.ParseError
	if !errors.As(err, &pe) {
		p.add(0, "%v", err)
		return
	}
	switch {
	case errors.Is(pe.Err, stdcsv.ErrQuote):
		p.add(pe.StartLine, "unbalanced quote: the quoted field starting here is not closed (double a quote inside a quoted field: \"\")")
	case errors.Is(pe.Err, stdcsv.ErrBareQuote):
		p.add(pe.Line, "quote in unquoted field at column %d (quote the whole field and double the quote: \"a \"\"b\"\"\")", pe.Column)
	default:
		p.add(pe.Line, "%v", pe.Err)
	}
}

// blank reports whether a row holds nothing but white space.
func blank(row []string) bool {
	for _, f := range row {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// restBlank reports whether the rows left in r are all blank. It is asked
// only after a blank header row, where the answer decides between an empty
// file and a missing key column; the rows it reads are lost, which is fine
// then: the file fails either way.
func restBlank(r *stdcsv.Reader) bool {
	for {
		row, err := r.Read()
		if err == io.EOF {
			return true
		}
		if err != nil || !blank(row) {
			return false
		}
	}
}

// ChangeStamp tells, without reading the file, whether it may have changed
// since an earlier stamp: its size and modification time (or why it cannot
// be seen). Equal stamps mean a read would find the same records.
func (s *Source) ChangeStamp() string {
	fi, err := os.Stat(s.cfg.Path)
	if err != nil {
		return "error " + err.Error()
	}
	return fmt.Sprintf("%d %s", fi.Size(), fi.ModTime().UTC().Format(time.RFC3339Nano))
}
