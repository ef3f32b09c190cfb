package csv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/rostersync/rostersync/sources"
)

func TestNewValidates(t *testing.T) {
	_, err := New("hr", Config{Delimiter: '"', MinRows: -1})
	if err == nil {
		t.Fatal("New accepted an invalid config")
	}
	for _, want := range []string{"path: required", "key: required", "delimiter:", "min_rows: -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	s, err := New("hr", Config{Path: "x.csv", Key: "id"})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Delimiter != ',' || s.Name() != "hr" {
		t.Errorf("defaults not applied: %+v", s)
	}
}

func TestParseStructuralErrors(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		required []string
		want     []string
	}{{
		name: "empty file",
		data: "",
		want: []string{"p.csv: empty file: expected a header row naming the columns"},
	}, {
		name: "only a BOM and blank lines",
		data: "\xEF\xBB\xBF\r\n\n",
		want: []string{"p.csv: empty file: expected a header row naming the columns"},
	}, {
		name:     "missing required column",
		data:     "id,name\n1,a\n",
		required: []string{"name", "team"},
		want:     []string{`p.csv:1: missing required column "team" (found: id, name)`},
	}, {
		name:     "missing several columns",
		data:     "id\n1\n",
		required: []string{"team", "site"},
		want:     []string{`p.csv:1: missing required columns "team", "site" (found: id)`},
	}, {
		name: "missing key column",
		data: "name\na\n",
		want: []string{`p.csv:1: missing key column "id" (found: name)`},
	}, {
		name: "duplicate column",
		data: "id,Name,name\n1,a,b\n",
		want: []string{`p.csv:1: duplicate column "name" (columns 2 and 3)`},
	}, {
		name: "unbalanced quote",
		data: "id,name\n1,a\n2,\"b\n3,c\n",
		want: []string{`p.csv:3: unbalanced quote: the quoted field starting here is not closed (double a quote inside a quoted field: "")`},
	}, {
		name: "bare quote",
		data: "id,name\n1,a \"b\"\n",
		want: []string{`p.csv:2: quote in unquoted field at column 5 (quote the whole field and double the quote: "a ""b""")`},
	}, {
		name: "duplicate key",
		data: "id,name\n1,a\n2,b\n1,c\n",
		want: []string{`p.csv:4: duplicate key "1" (first on line 2)`},
	}, {
		name: "wrong field count",
		data: "id,name\n1,a\n2,b,c\n3\n",
		want: []string{
			`p.csv:3: row has 3 fields, the header has 2 (quote values that contain ',')`,
			`p.csv:4: row has 1 fields, the header has 2 (quote values that contain ',')`,
		},
	}, {
		name: "empty key",
		data: "id,name\n1,a\n  ,b\n",
		want: []string{`p.csv:3: empty key in column "id"`},
	}, {
		name: "invalid UTF-8",
		data: "id,name\n1,a\n2,\xff\xfe\n",
		want: []string{`p.csv:3: invalid UTF-8 (save the export as UTF-8)`},
	}, {
		name: "problems after a quoted newline keep physical lines",
		data: "id,note\n1,\"two\nlines\"\n1,x\n",
		want: []string{`p.csv:4: duplicate key "1" (first on line 2)`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := parse(Config{Path: "p.csv", Key: "id", Required: tt.required}, []byte(tt.data))
			if recs != nil {
				t.Errorf("records returned with an error: %v", recs)
			}
			if diff := cmp.Diff(tt.want, errLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Errorf("error %v is not a *FileError", err)
			}
		})
	}
}

func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestParseBoundsProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,name\n")
	for range 30 {
		b.WriteString("1\n")
	}
	_, err := parse(Config{Path: "p.csv", Key: "id"}, []byte(b.String()))
	lines := errLines(err)
	if len(lines) != maxProblems+1 {
		t.Fatalf("got %d lines, want %d", len(lines), maxProblems+1)
	}
	if got, want := lines[maxProblems], "p.csv: 10 more problems not shown"; got != want {
		t.Errorf("last line = %q, want %q", got, want)
	}
}

func TestParseFormats(t *testing.T) {
	rec := func(key, origin string, kv ...string) sources.Record {
		attrs := map[string][]string{}
		for i := 0; i < len(kv); i += 2 {
			attrs[kv[i]] = []string{kv[i+1]}
		}
		return sources.Record{Key: key, Attrs: attrs, Origin: origin}
	}
	tests := []struct {
		name  string
		delim rune
		req   []string
		data  string
		want  []sources.Record
	}{{
		name: "BOM, CRLF, trimmed header and values",
		req:  []string{"NAME"},
		data: "\xEF\xBB\xBF ID ,Name\r\n 7 , Ann \r\n8,Bob\r\n",
		want: []sources.Record{
			rec("7", "people.csv:2", "ID", "7", "Name", "Ann"),
			rec("8", "people.csv:3", "ID", "8", "Name", "Bob"),
		},
	}, {
		name: "quoted newline and delimiter",
		req:  []string{"Note"},
		data: "id,note\n1,\"a, b\nc\"\"d\"\n\n2,\"x\r\ny\"\n3,z\n",
		want: []sources.Record{
			rec("1", "people.csv:2", "id", "1", "note", "a, b\nc\"d"),
			rec("2", "people.csv:5", "id", "2", "note", "x\ny"),
			rec("3", "people.csv:7", "id", "3", "note", "z"),
		},
	}, {
		name:  "semicolon delimiter",
		delim: ';',
		data:  "id;name;team\n1;Smith, Ann;North\n",
		want:  []sources.Record{rec("1", "people.csv:2", "id", "1", "name", "Smith, Ann", "team", "North")},
	}, {
		name: "header only",
		data: "id,name\n",
		want: nil,
	}, {
		name: "unnamed trailing column ignored",
		data: "id,name,\n1,a,\n",
		want: []sources.Record{rec("1", "people.csv:2", "id", "1", "name", "a")},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(Config{Path: "/data/people.csv", Key: "id", Delimiter: tt.delim, Required: tt.req}, []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFetch(t *testing.T) {
	p := writeFile(t, "hr.csv", "id,name\n1,a\n2,b\n")
	s, err := New("hr", Config{Path: p, Key: "id"})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sources.Health{Complete: true, Count: 2}, snap.Health); diff != "" {
		t.Errorf("health (-want +got):\n%s", diff)
	}
	if snap.Source != "hr" || len(snap.Records) != 2 || snap.Records[1].Origin != "hr.csv:3" {
		t.Errorf("unexpected snapshot %+v", snap)
	}
}

func TestFetchMinRows(t *testing.T) {
	p := writeFile(t, "hr.csv", "id,name\n1,a\n2,b\n")
	s, err := New("hr", Config{Path: p, Key: "id", MinRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := sources.Health{Complete: false, Reason: "read 2 rows, fewer than min_rows 3", Count: 2}
	if diff := cmp.Diff(want, snap.Health); diff != "" {
		t.Errorf("health (-want +got):\n%s", diff)
	}
}

func TestFetchStructuralErrorNamesFile(t *testing.T) {
	p := writeFile(t, "hr.csv", "id,name\n1,a\n1,b\n")
	s, _ := New("hr", Config{Path: p, Key: "id"})
	snap, err := s.Fetch(context.Background())
	if snap != nil {
		t.Errorf("snapshot returned with an error: %+v", snap)
	}
	want := "source hr: " + p + `:3: duplicate key "1" (first on line 2)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestFetchMissingFile(t *testing.T) {
	s, _ := New("hr", Config{Path: filepath.Join(t.TempDir(), "nope.csv"), Key: "id"})
	if _, err := s.Fetch(context.Background()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v, want not-exist", err)
	}
}

func TestFetchCancelled(t *testing.T) {
	p := writeFile(t, "hr.csv", "id\n1\n")
	s, _ := New("hr", Config{Path: p, Key: "id"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Fetch(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

// TestChanged covers the before/after comparison Fetch uses to detect a file
// rewritten while it was read.
func TestChanged(t *testing.T) {
	p := writeFile(t, "hr.csv", "id\n1\n")
	a, _ := os.Stat(p)
	if changed(a, a) {
		t.Error("a file compared with itself changed")
	}
	if err := os.WriteFile(p, []byte("id\n1\n2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	b, _ := os.Stat(p)
	if !changed(a, b) {
		t.Error("a rewritten file did not count as changed")
	}
}

func TestFetchFileChangedWhileRead(t *testing.T) {
	p := writeFile(t, "hr.csv", "id\n1\n")
	s, _ := New("hr", Config{Path: p, Key: "id"})
	testHookAfterRead = func(path string) {
		if err := os.WriteFile(path, []byte("id\n1\n2\n"), 0o600); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { testHookAfterRead = nil })
	snap, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Health.Complete || !strings.HasPrefix(snap.Health.Reason, "file changed while read (size 5 → 7 bytes") {
		t.Errorf("health = %+v, want incomplete: file changed", snap.Health)
	}
	if snap.Health.Count != 1 {
		t.Errorf("count = %d, want 1", snap.Health.Count)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"id,name\n1,a\n2,b\n",
		"\xEF\xBB\xBFid;name\r\n1;\"a;\nb\"\r\n",
		"id,name\n1,\"a\n",
		"id\n1\n1\n",
		"",
		"id,name\n\xff,a\n",
		"id,name\n1,\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\xe2\x82\n2,\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600x\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Lines with bytes that are not UTF-8, found in the whole file at once.
		var badLines []string
		for i, line := range bytes.SplitAfter(bytes.TrimPrefix(data, bom), []byte("\n")) {
			if !utf8.Valid(line) {
				badLines = append(badLines, fmt.Sprintf("f.csv:%d: invalid UTF-8 (save the export as UTF-8)", i+1))
			}
		}
		for _, delim := range []rune{',', ';'} {
			cfg := Config{Path: "f.csv", Key: "id", Delimiter: delim}
			recs, err := parse(cfg, data)
			// Read 16 bytes at a time, cutting lines and runes: the same result.
			defer func(n int) { readBufSize = n }(readBufSize)
			readBufSize = 16
			recs16, err16 := parse(cfg, data)
			readBufSize = 64 << 10
			if !cmp.Equal(recs, recs16) || fmt.Sprint(err) != fmt.Sprint(err16) {
				t.Fatalf("read 16 bytes at a time: %v, %v; read whole: %v, %v", recs16, err16, recs, err)
			}
			if len(badLines) > 0 && !cmp.Equal(errLines(err), badLines[:min(len(badLines), maxProblems)]) && len(badLines) <= maxProblems {
				t.Fatalf("errors %q, want the lines that are not UTF-8: %q", errLines(err), badLines)
			}
			if err != nil {
				if recs != nil {
					t.Fatalf("records and an error: %v", err)
				}
				continue
			}
			lines := bytes.Count(data, []byte("\n")) + 1
			if len(recs) > lines {
				t.Fatalf("%d records from %d lines", len(recs), lines)
			}
			seen := map[string]bool{}
			for _, r := range recs {
				if r.Key == "" || seen[r.Key] {
					t.Fatalf("empty or duplicate key %q", r.Key)
				}
				seen[r.Key] = true
			}
		}
	})
}

// TestStreamMatchesFetch: streaming hands over the records Fetch returns,
// in file order, with the same health, though it reuses the record it hands over.
func TestStreamMatchesFetch(t *testing.T) {
	p := writeFile(t, "hr.csv", "id,name,team\n1,a,x\n2,b,y\n3,c,x\n")
	s, err := New("hr", Config{Path: p, Key: "id", MinRows: 4})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []sources.Record
	h, err := s.Stream(context.Background(), func(r *sources.Record) error {
		c := *r
		c.Attrs = map[string][]string{}
		for k, v := range r.Attrs {
			c.Attrs[k] = slices.Clone(v)
		}
		got = append(got, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(snap.Records, got); diff != "" {
		t.Errorf("streamed records (-fetched +streamed):\n%s", diff)
	}
	if diff := cmp.Diff(snap.Health, h); diff != "" || h.Complete {
		t.Errorf("streamed health %+v, fetched %+v", h, snap.Health)
	}
}

// TestStreamBrokenFileFailsWhole: a structural problem fails the stream
// with every problem found, and no row after the first problem is handed over.
func TestStreamBrokenFileFailsWhole(t *testing.T) {
	p := writeFile(t, "hr.csv", "id,name\n1,a\n1,b\n2,c\n,d\n")
	s, _ := New("hr", Config{Path: p, Key: "id"})
	var keys []string
	_, err := s.Stream(context.Background(), func(r *sources.Record) error {
		keys = append(keys, r.Key)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), `hr.csv:3: duplicate key "1"`) || !strings.Contains(err.Error(), `hr.csv:5: empty key`) {
		t.Errorf("error = %v, want both problems", err)
	}
	if !slices.Equal(keys, []string{"1"}) {
		t.Errorf("rows handed over: %q, want only the one before the first problem", keys)
	}
}

// TestStreamStopsOnCallerError: the caller's error ends the stream and is returned.
func TestStreamStopsOnCallerError(t *testing.T) {
	p := writeFile(t, "hr.csv", "id,name\n1,a\n2,b\n")
	s, _ := New("hr", Config{Path: p, Key: "id"})
	stop := errors.New("stop")
	calls := 0
	_, err := s.Stream(context.Background(), func(*sources.Record) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("error = %v after %d calls, want stop after 1", err, calls)
	}
}
