package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/sources/ldap/ldaptest"
)

// TestREADME runs the README as a new user would, so that it cannot drift
// from the code. Every fenced block must say what it is in its info string:
//
//	```sh               commands, run in order in one shell session from the
//	                    repository root ("go run ./cmd/rostersync" and
//	                    "go build -o FILE ./cmd/rostersync" use this test
//	                    binary, which runs as rostersync; "/tmp/" is a fresh
//	                    temporary directory)
//	```sh norun         commands that cannot run here (installing packages,
//	                    systemctl); the text around them says why
//	```sh slapd         commands run with the test harness's slapd, named by
//	                    LDAP_URL, LDAP_BASE_DN, LDAP_BIND_DN and
//	                    LDAP_BIND_PASSWORD_FILE (skipped without slapd, failed
//	                    without it when ROSTERSYNC_REQUIRE_LDAP=1, as in CI)
//	```yaml             a complete configuration file: loaded and validated
//	```yaml partial     sections added to the previous complete example
//	```json plan        the plan's JSON schema, held to the Plan type
//	```text             output shown for reading; not run
//	```text output="rostersync ARGS"
//	                    output that running ARGS must reproduce, line by line
//	                    (lines with a timestamp excepted)
//
// "go test" lines are not run (that would test the tests), but held to the
// code: the packages exist, the tests, benchmarks and fuzz targets they name
// exist, every flag they pass is defined, and the README's test command is
// the one .ci/run runs (with -race added).
//
// A block that fails is reported with its README line, the line of the
// command that failed, and its output.
func TestREADME(t *testing.T) {
	blocks, err := readmeBlocks("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks = slices.DeleteFunc(blocks, func(b *block) bool {
		err := b.validInfo()
		if err != nil {
			t.Errorf("README.md:%d: ```%s: the README test does not know how to treat this block: %v", b.line, b.info, err)
		}
		return err != nil
	})

	t.Run("paths", func(t *testing.T) { checkREADMEPaths(t, "../../README.md") })
	t.Run("go test lines", func(t *testing.T) {
		for _, b := range blocks {
			if b.lang == "sh" {
				checkGoTestLines(t, b)
			}
		}
	})
	t.Run("configuration examples", func(t *testing.T) {
		var base map[string]any
		baseLine := 0
		for _, b := range blocks {
			if b.lang != "yaml" {
				continue
			}
			text := b.text()
			if b.has("partial") {
				if base == nil {
					t.Errorf("README.md:%d: a partial example with no complete example before it", b.line)
					continue
				}
				merged, err := mergeYAML(base, text)
				if err != nil {
					t.Errorf("README.md:%d: %v", b.line, err)
					continue
				}
				text = merged
			} else {
				base = map[string]any{}
				if err := yaml.Unmarshal([]byte(text), &base); err != nil {
					t.Errorf("README.md:%d: not YAML: %v", b.line, err)
					continue
				}
				baseLine = b.line
			}
			if err := validateConfig(t.TempDir(), text); err != nil {
				what := "the configuration example"
				if b.has("partial") {
					what += fmt.Sprintf(" (added to the example at README.md:%d)", baseLine)
				}
				t.Errorf("README.md:%d: %s does not load:\n%v", b.line, what, err)
			}
		}
	})
	t.Run("JSON plan sample", func(t *testing.T) {
		for _, b := range blocks {
			if b.lang == "json" {
				checkPlanSample(t, b)
			}
		}
	})

	tmp := t.TempDir()
	sh := newReadmeShell(t, tmp)
	t.Run("text outputs", func(t *testing.T) {
		for _, b := range blocks {
			if cmd := b.attr("output"); b.lang == "text" && cmd != "" {
				sh.checkOutput(t, b, cmd)
			}
		}
	})
	t.Run("shell blocks", func(t *testing.T) {
		for _, b := range blocks {
			if b.lang != "sh" || b.has("norun") {
				continue
			}
			if !sh.run(t, b) {
				return // later blocks build on this one
			}
		}
	})
}

// block is one fenced block of the README.
type block struct {
	line  int    // the line of the opening fence
	info  string // the info string
	lang  string
	attrs map[string]string
	lines []string
}

var attrRE = regexp.MustCompile(`([a-z][a-z-]*)(?:="([^"]*)")?`)

func readmeBlocks(path string) ([]*block, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []*block
	var cur *block
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			info := strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))
			cur = &block{line: n, info: info, attrs: map[string]string{}}
			lang, rest, _ := strings.Cut(info, " ")
			cur.lang = lang
			for _, m := range attrRE.FindAllStringSubmatch(rest, -1) {
				cur.attrs[m[1]] = m[2]
			}
		case cur != nil && trimmed == "```":
			out = append(out, cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, line)
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: the block is never closed", path, cur.line)
	}
	return out, sc.Err()
}

func (b *block) has(attr string) bool    { _, ok := b.attrs[attr]; return ok }
func (b *block) attr(name string) string { return b.attrs[name] }
func (b *block) text() string            { return strings.Join(b.lines, "\n") + "\n" }

// validInfo says whether the test knows what to do with the block.
func (b *block) validInfo() error {
	known := map[string][]string{
		"sh":   {"norun", "slapd"},
		"yaml": {"partial"},
		"json": {"plan"},
		"text": {"output"},
	}
	attrs, ok := known[b.lang]
	if !ok {
		return errors.New(`give the block a language the README test knows: sh (run), "sh norun" (not run, say why in the text), yaml (a configuration example), text (output)`)
	}
	for a := range b.attrs {
		if !slices.Contains(attrs, a) {
			return fmt.Errorf("%q is not an attribute of %s blocks (known: %s)", a, b.lang, strings.Join(attrs, ", "))
		}
	}
	if b.lang == "json" && !b.has("plan") {
		return errors.New(`the only JSON block the README test knows is the plan sample: "json plan"`)
	}
	return nil
}

// validateConfig loads a configuration example as rostersync does.
func validateConfig(dir, text string) error {
	p := filepath.Join(dir, "rostersync.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		return err
	}
	f, err := config.LoadFile(p)
	if err != nil {
		return err
	}
	return f.Validate()
}

// mergeYAML adds the top-level sections of partial to base.
func mergeYAML(base map[string]any, partial string) (string, error) {
	var add map[string]any
	if err := yaml.Unmarshal([]byte(partial), &add); err != nil {
		return "", fmt.Errorf("not YAML: %w", err)
	}
	merged := map[string]any{}
	for k, v := range base {
		merged[k] = v
	}
	for k, v := range add {
		merged[k] = v
	}
	out, err := yaml.Marshal(merged)
	return string(out), err
}

// goTestFlags are the go test flags README commands may pass.
var goTestFlags = map[string]bool{
	"run": true, "bench": true, "benchtime": true, "count": true, "shuffle": true, "race": false, "v": false,
	"fuzz": true, "fuzztime": true, "timeout": true, "cpu": true, "short": false, "benchmem": false,
}

// checkGoTestLines holds the block's go test lines to the code.
func checkGoTestLines(t *testing.T, b *block) {
	for i, line := range b.lines {
		line, _, _ = strings.Cut(line, "#")
		f := shellWords(line)
		for len(f) > 0 && strings.Contains(f[0], "=") {
			f = f[1:] // VAR=value prefixes
		}
		if len(f) < 2 || f[0] != "go" || f[1] != "test" {
			continue
		}
		where := fmt.Sprintf("README.md:%d: %s", b.line+1+i, strings.TrimSpace(line))
		var pkgs []string
		flags := map[string]string{}
		for j := 2; j < len(f); j++ {
			a := f[j]
			if !strings.HasPrefix(a, "-") {
				pkgs = append(pkgs, a)
				continue
			}
			name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
			takes, known := goTestFlags[name]
			if !known {
				takes = true // a package's own flag, as -update
			}
			if takes && !hasVal && j+1 < len(f) && !strings.HasPrefix(f[j+1], "-") && !strings.HasPrefix(f[j+1], ".") {
				j++
				val = f[j]
			} else if !hasVal && !known && (j+1 == len(f) || strings.HasPrefix(f[j+1], "-") || strings.HasPrefix(f[j+1], ".")) {
				val = "true"
			}
			flags[name] = val
		}
		if len(pkgs) == 0 {
			t.Errorf("%s: names no package", where)
			continue
		}
		var dirs []string
		for _, p := range pkgs {
			ds, err := packageDirs(p)
			if err != nil {
				t.Errorf("%s: %v", where, err)
			}
			dirs = append(dirs, ds...)
		}
		for name := range flags {
			if _, known := goTestFlags[name]; known {
				continue
			}
			for _, d := range dirs {
				if !testSourceHas(d, regexp.MustCompile(`flag\.\w+\("`+regexp.QuoteMeta(name)+`"`)) {
					t.Errorf("%s: package %s defines no -%s flag: go test fails there with \"flag provided but not defined\"", where, d, name)
				}
			}
		}
		for flag, kind := range map[string]string{"bench": "Benchmark", "fuzz": "Fuzz", "run": "Test"} {
			pat, ok := flags[flag]
			if !ok || flag == "run" && (flags["bench"] != "" || flags["fuzz"] != "") {
				continue // "-run XXX" beside -bench or -fuzz runs no test, on purpose
			}
			re, err := regexp.Compile(pat)
			if err != nil {
				t.Errorf("%s: -%s %q: %v", where, flag, pat, err)
				continue
			}
			found := false
			for _, d := range dirs {
				found = found || testFuncMatches(d, kind, re)
			}
			if !found {
				t.Errorf("%s: no %s function in %s matches -%s %q", where, kind, strings.Join(pkgs, " "), flag, pat)
			}
		}
		// The README's test command is CI's, with the race detector added.
		if slices.Equal(pkgs, []string{"./..."}) && flags["run"] == "" && flags["bench"] == "" {
			if _, race := flags["race"]; race {
				t.Errorf("%s: -race needs cgo and a C compiler, which a machine with only Go lacks: leave it to CI", where)
				continue
			}
			want := "go test -race " + strings.Join(f[2:], " ")
			ci, err := os.ReadFile("../../.ci/run")
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(want) + `\s*$`).Match(ci) {
				t.Errorf("%s: .ci/run does not run %q: CI must run the README's test command, plus -race", where, want)
			}
		}
	}
}

// packageDirs expands a package pattern relative to the repository root.
func packageDirs(pattern string) ([]string, error) {
	root := "../.."
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		var out []string
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != filepath.Join(root, dir) {
				return filepath.SkipDir
			}
			if d.IsDir() {
				if m, _ := filepath.Glob(filepath.Join(p, "*_test.go")); len(m) > 0 {
					out = append(out, p)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("package pattern %s: %w", pattern, err)
		}
		return out, nil
	}
	d := filepath.Join(root, pattern)
	if m, _ := filepath.Glob(filepath.Join(d, "*.go")); len(m) == 0 {
		return nil, fmt.Errorf("package %s does not exist", pattern)
	}
	return []string{d}, nil
}

func testSourceHas(dir string, re *regexp.Regexp) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && re.Match(b) {
			return true
		}
	}
	return false
}

func testFuncMatches(dir, kind string, re *regexp.Regexp) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	fn := regexp.MustCompile(`(?m)^func (` + kind + `\w*)\(`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, m := range fn.FindAllSubmatch(b, -1) {
			if re.Match(m[1]) {
				return true
			}
		}
	}
	return false
}

// shellWords splits a command line on blanks, honouring single and double
// quotes (enough for the README's go test lines).
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	in := rune(0)
	started := false
	for _, r := range s {
		switch {
		case in != 0 && r == in:
			in = 0
		case in != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			in, started = r, true
		case r == ' ' || r == '\t' || r == '\\':
			if started {
				out = append(out, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteRune(r)
			started = true
		}
	}
	if started {
		out = append(out, cur.String())
	}
	return out
}

// checkPlanSample holds the annotated JSON plan to the Plan type: every key
// it shows at the plan's and an operation's level is a field of Plan or Op,
// every field that is always written is shown, and a field that is left out
// when empty says so in its comment.
func checkPlanSample(t *testing.T, b *block) {
	fields := func(v any) map[string]bool {
		out := map[string]bool{} // name → omitempty
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			tag := rt.Field(i).Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name != "" && name != "-" {
				out[name] = strings.Contains(opts, "omitempty")
			}
		}
		return out
	}
	levels := map[int]map[string]bool{2: fields(reconcile.Plan{}), 6: fields(reconcile.Op{})}
	levelName := map[int]string{2: "the plan", 6: "an operation"}
	seen := map[int]map[string]bool{2: {}, 6: {}}
	key := regexp.MustCompile(`^"([a-z_]+)":`)
	for i, line := range b.lines {
		where := fmt.Sprintf("README.md:%d", b.line+1+i)
		indent := len(line) - len(strings.TrimLeft(line, " "))
		want, ok := levels[indent]
		if !ok {
			continue
		}
		code, comment, _ := strings.Cut(line, "//")
		for _, k := range topLevelKeys(code, key) {
			omit, ok := want[k]
			switch {
			case !ok:
				t.Errorf("%s: %q is not a field of %s (%T)", where, k, levelName[indent], map[int]any{2: reconcile.Plan{}, 6: reconcile.Op{}}[indent])
			case omit && !strings.Contains(comment, "omitted when empty"):
				t.Errorf("%s: %q is left out of the JSON when empty; say \"omitted when empty\" in its comment", where, k)
			}
			seen[indent][k] = true
		}
	}
	for indent, fs := range levels {
		for k, omit := range fs {
			if !omit && !seen[indent][k] {
				t.Errorf("README.md:%d: the JSON plan sample does not show %q, which every %s has", b.line, k, strings.TrimPrefix(levelName[indent], "an "))
			}
		}
	}
}

// topLevelKeys returns the keys of s (one line of JSON) that are not inside
// a brace or bracket opened on the line.
func topLevelKeys(s string, key *regexp.Regexp) []string {
	var out []string
	depth := 0
	inStr := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr && c == '\\':
			i++
		case inStr && c == '"':
			inStr = false
		case inStr:
		case c == '"':
			if m := key.FindStringSubmatch(s[i:]); m != nil && depth == 0 {
				out = append(out, m[1])
			}
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	return out
}

// readmeShell runs shell blocks in one session: the environment a block
// exports is there for the next, and what it starts in the background runs
// until the test ends.
type readmeShell struct {
	t      *testing.T
	root   string // the repository
	tmp    string // stands for /tmp
	bin    string // PATH entries: rostersync and the go wrapper
	state  string // the session's exported environment
	env    []string
	groups []int
}

func newReadmeShell(t *testing.T, tmp string) *readmeShell {
	sh := &readmeShell{t: t, tmp: filepath.Join(tmp, "tmp"), bin: filepath.Join(tmp, "bin"), state: filepath.Join(tmp, "env.sh")}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	sh.root = root
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	realGo, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{sh.tmp, sh.bin, filepath.Join(tmp, "home")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// This test binary runs as rostersync (see TestMain): no second build.
	scripts := map[string]string{
		"rostersync": fmt.Sprintf("#!/bin/sh\nROSTERSYNC_TEST_MAIN=1 exec %q \"$@\"\n", self),
		"go": fmt.Sprintf(`#!/bin/sh
self=%q
if [ "$1" = run ] && [ "$2" = ./cmd/rostersync ]; then
  shift 2
  ROSTERSYNC_TEST_MAIN=1 exec "$self" "$@"
fi
if [ $# -eq 4 ] && [ "$1" = build ] && [ "$2" = -o ] && [ "$4" = ./cmd/rostersync ]; then
  printf '#!/bin/sh\nROSTERSYNC_TEST_MAIN=1 exec "%%s" "$@"\n' "$self" > "$3" && chmod +x "$3"
  exit
fi
exec %q "$@"
`, self, realGo),
	}
	for name, s := range scripts {
		if err := os.WriteFile(filepath.Join(sh.bin, name), []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(sh.state, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A user's environment: none of the test run's ROSTERSYNC_ settings,
	// a home of its own, the go caches of this run.
	goEnv, err := exec.Command(realGo, "env", "GOCACHE", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	caches := strings.Fields(string(goEnv))
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, config.EnvPrefix) && k != ldaptest.RequireEnv ||
			slices.Contains([]string{"HOME", "PATH", "XDG_STATE_HOME", "STATE_DIRECTORY", "CREDENTIALS_DIRECTORY", "JOURNAL_STREAM", "NOTIFY_SOCKET", "GOFLAGS"}, k) {
			continue
		}
		sh.env = append(sh.env, kv)
	}
	sh.env = append(sh.env, "HOME="+filepath.Join(tmp, "home"), "PATH="+sh.bin+":"+os.Getenv("PATH"))
	if len(caches) == 2 {
		sh.env = append(sh.env, "GOCACHE="+caches[0], "GOMODCACHE="+caches[1])
	}
	t.Cleanup(func() {
		for _, g := range sh.groups {
			syscall.Kill(-g, syscall.SIGTERM)
		}
	})
	return sh
}

// script turns a block into a script that records the README line of each
// command before running it, so a failure can name it.
func (sh *readmeShell) script(b *block) string {
	var s strings.Builder
	fmt.Fprintf(&s, "set -e\n. %q\n", sh.state)
	fmt.Fprintf(&s, "trap 'rc=$?; export -p > %q; echo \"$__readme_line\" > %q; exit $rc' EXIT\n", sh.state, sh.state+".line")
	heredoc := ""
	cont := false
	for i, line := range b.lines {
		line = strings.ReplaceAll(line, "/tmp/", sh.tmp+"/")
		trimmed := strings.TrimSpace(line)
		switch {
		case heredoc != "":
			if trimmed == heredoc {
				heredoc = ""
			}
		case cont || trimmed == "" || strings.HasPrefix(trimmed, "#"):
		case isGoTest(trimmed):
			line = "# checked, not run: " + line
		default:
			fmt.Fprintf(&s, "__readme_line=%d\n", b.line+1+i)
		}
		if m := regexp.MustCompile(`<<-?\s*['"]?(\w+)['"]?`).FindStringSubmatch(line); m != nil && heredoc == "" && !strings.HasPrefix(trimmed, "#") {
			heredoc = m[1]
		}
		cont = strings.HasSuffix(trimmed, "\\") && !strings.HasPrefix(trimmed, "#")
		s.WriteString(line + "\n")
	}
	s.WriteString("__readme_line=0\n")
	return s.String()
}

func isGoTest(line string) bool {
	f := strings.Fields(line)
	for len(f) > 0 && strings.Contains(f[0], "=") {
		f = f[1:]
	}
	return len(f) >= 2 && f[0] == "go" && f[1] == "test"
}

// run runs one block; false when it failed.
func (sh *readmeShell) run(t *testing.T, b *block) bool {
	t.Helper()
	env := slices.Clone(sh.env)
	if b.has("slapd") {
		s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{Users: 50})
		env = append(env, "LDAP_URL="+s.URL, "LDAP_BASE_DN="+s.PeopleDN, "LDAP_BIND_DN="+s.ReaderDN, "LDAP_BIND_PASSWORD_FILE="+s.ReaderPasswordFile)
	}
	if strings.Contains(b.text(), "curl ") {
		ldaptest.Need(t, "apt-get install curl", "curl")
	}
	out, line, err := sh.exec(env, sh.script(b), 3*time.Minute)
	if err != nil {
		where := fmt.Sprintf("README.md:%d (the block at README.md:%d)", line, b.line)
		cmd := ""
		if i := line - b.line - 1; line > 0 && i >= 0 && i < len(b.lines) {
			cmd = strings.TrimSpace(b.lines[i])
		}
		t.Errorf("%s: %s\n  failed: %v\noutput:\n%s", where, cmd, err, out)
		return false
	}
	t.Logf("README.md:%d: ran, output:\n%s", b.line, out)
	return true
}

// exec runs script with sh; it returns the output and the README line
// of the command that failed.
func (sh *readmeShell) exec(env []string, script string, timeout time.Duration) (string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	outFile, err := os.CreateTemp(sh.tmp, "block-output-")
	if err != nil {
		return "", 0, err
	}
	defer outFile.Close()
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Dir = sh.root
	cmd.Env = env
	// A file, not a pipe: a background process keeps its output open.
	cmd.Stdout, cmd.Stderr = outFile, outFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	runErr := cmd.Start()
	if runErr == nil {
		sh.groups = append(sh.groups, cmd.Process.Pid)
		runErr = cmd.Wait()
	}
	if ctx.Err() != nil {
		runErr = fmt.Errorf("still running after %s", timeout)
	}
	out, _ := os.ReadFile(outFile.Name())
	line := 0
	if b, err := os.ReadFile(sh.state + ".line"); err == nil {
		fmt.Sscan(string(b), &line)
	}
	return string(out), line, runErr
}

// checkOutput runs the block's command and checks that its output holds
// every line of the block, in order.
func (sh *readmeShell) checkOutput(t *testing.T, b *block, command string) {
	args, ok := strings.CutPrefix(command, "rostersync ")
	if !ok {
		t.Errorf("README.md:%d: output=%q: give a rostersync command", b.line, command)
		return
	}
	out, _, err := sh.exec(sh.env, "rostersync "+args, 3*time.Minute)
	if err != nil {
		t.Errorf("README.md:%d: %s: %v\n%s", b.line, command, err, out)
		return
	}
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	rest := out
	for i, line := range b.lines {
		if strings.TrimSpace(line) == "" || stamp.MatchString(line) {
			continue
		}
		j := strings.Index(rest, line+"\n")
		if j < 0 {
			t.Errorf("README.md:%d: %q is not in the output of %s (after the lines before it):\n%s", b.line+1+i, line, command, out)
			return
		}
		rest = rest[j+len(line):]
	}
	if !bytes.Contains([]byte(out), []byte("\n")) {
		t.Errorf("README.md:%d: %s printed nothing", b.line, command)
	}
}

// checkREADMEPaths: every file the README links to or names in inline code
// is in the repository, so a reader of a fresh clone can open it.
func checkREADMEPaths(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	root := "../.."
	fileExt := regexp.MustCompile(`\.(md|go|ya?ml|csv|json|txtar|sh|service|example|ldif)$`)
	inline := regexp.MustCompile("`([^`]+)`")
	link := regexp.MustCompile(`\]\(([^)#]+)(#[^)]*)?\)`)
	fenced := false
	for n, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		where := fmt.Sprintf("README.md:%d", n+1)
		var refs []string
		for _, m := range link.FindAllStringSubmatch(line, -1) {
			if !strings.Contains(m[1], "://") && !strings.HasPrefix(m[1], "mailto:") {
				refs = append(refs, m[1])
			}
		}
		for _, m := range inline.FindAllStringSubmatch(line, -1) {
			for _, w := range strings.Fields(m[1]) {
				w = strings.TrimRight(w, ",.;:)")
				if strings.HasPrefix(w, "../") {
					refs = append(refs, w)
					continue
				}
				w = strings.TrimPrefix(w, "./")
				if !strings.Contains(w, "/") || strings.ContainsAny(w[:1], "/$~<") || strings.Contains(w, "://") {
					continue
				}
				first, _, _ := strings.Cut(w, "/")
				if _, err := os.Stat(filepath.Join(root, first)); err == nil || fileExt.MatchString(w) {
					refs = append(refs, w)
				}
			}
		}
		for _, r := range refs {
			full := filepath.Join(root, r)
			if rel, err := filepath.Rel(root, full); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s: %s is outside the repository: a reader of a clone cannot open it", where, r)
				continue
			}
			if m, _ := filepath.Glob(full); len(m) == 0 {
				t.Errorf("%s: %s is not in the repository", where, r)
			}
		}
	}
}

// TestREADMEShellNamesTheFailingCommand: a failing command in a block is
// reported by its README line, continuation lines and heredocs included,
// and what a block exports reaches the next block.
func TestREADMEShellNamesTheFailingCommand(t *testing.T) {
	sh := newReadmeShell(t, t.TempDir())
	ok := &block{line: 10, lang: "sh", lines: []string{
		"# a comment",
		"export GREETING=hello \\",
		"       OTHER=x",
		"cat > /tmp/f <<'EOF'",
		"false",
		"EOF",
	}}
	if out, line, err := sh.exec(sh.env, sh.script(ok), time.Minute); err != nil {
		t.Fatalf("a good block failed at line %d: %v\n%s", line, err, out)
	}
	bad := &block{line: 20, lang: "sh", lines: []string{
		`test "$GREETING" = hello`,
		`grep -q false /tmp/f`,
		"true",
		"false",
		"echo never",
	}}
	out, line, err := sh.exec(sh.env, sh.script(bad), time.Minute)
	if err == nil || line != 24 || strings.Contains(out, "never") {
		t.Errorf("a block failing at README line 24 (its fourth line): err %v, line %d, output %q", err, line, out)
	}
}
