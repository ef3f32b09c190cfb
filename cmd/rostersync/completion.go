package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

const completionAbout = `Prints a shell completion script for bash or zsh.

  bash:  rostersync completion bash > /etc/bash_completion.d/rostersync
         (or: source <(rostersync completion bash) in ~/.bashrc)
  zsh:   rostersync completion zsh > "${fpath[1]}/_rostersync"
         (or: source <(rostersync completion zsh) in ~/.zshrc, after compinit)

The .deb and .rpm install both scripts.`

// flagInfo is one flag of a command, as its -h shows it.
type flagInfo struct {
	name   string
	value  bool // takes a value
	usage  string
	values []string // the values it takes, when the usage lists them
}

type cmdInfo struct {
	name, summary string
	subs          []string
	flags         []flagInfo
}

var (
	flagLine   = regexp.MustCompile(`^  -([A-Za-z][\w-]*)(?: (\S+))?$`)
	valuesList = regexp.MustCompile(`^([\w-]+(?:, [\w-]+)*,? (?:or|and) [\w-]+)\b`)
)

// commandInfo reads every command's flags from its own -h, so completion
// never lags behind the flags.
func commandInfo() []cmdInfo {
	var out []cmdInfo
	for _, cmd := range commands() {
		if cmd.name == "completion" {
			out = append(out, cmdInfo{name: cmd.name, summary: cmd.summary, subs: []string{"bash", "zsh"}})
			continue
		}
		ci := cmdInfo{name: cmd.name, summary: cmd.summary}
		args := []string{"-h"}
		if cmd.name == "held" {
			ci.subs = []string{"list", "approve", "reject"}
			args = []string{"list", "-h"}
		}
		if cmd.name == "state" {
			ci.subs = []string{"copy"}
			args = []string{"copy", "-h"}
		}
		var buf bytes.Buffer
		c := &cli{stdout: &buf, stderr: &buf, stdin: strings.NewReader(""),
			lookupEnv: func(string) (string, bool) { return "", false }, now: time.Now}
		_ = cmd.run(context.Background(), args, c)
		lines := strings.Split(buf.String(), "\n")
		for i, line := range lines {
			m := flagLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			f := flagInfo{name: m[1], value: m[2] != ""}
			if i+1 < len(lines) {
				f.usage = strings.TrimSpace(lines[i+1])
			}
			if f.value {
				u := f.usage
				if _, after, ok := strings.Cut(u, ": "); ok {
					u = after // "which demo to run: basic, reorg or two-platforms"
				}
				if vm := valuesList.FindStringSubmatch(u); vm != nil {
					f.values = strings.FieldsFunc(vm[1], func(r rune) bool { return r == ',' || r == ' ' })
					f.values = slices.DeleteFunc(f.values, func(s string) bool { return s == "or" || s == "and" })
				}
			}
			ci.flags = append(ci.flags, f)
		}
		out = append(out, ci)
	}
	return out
}

func cmdCompletion(_ context.Context, args []string, c *cli) error {
	fs := newFlagSet(c, "completion", "bash|zsh", completionAbout)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	switch fs.Arg(0) {
	case "bash":
		_, err := c.stdout.Write([]byte(bashCompletion(commandInfo())))
		return err
	case "zsh":
		_, err := c.stdout.Write([]byte(zshCompletion(commandInfo())))
		return err
	}
	return fmt.Errorf("completion: shell %q: want bash or zsh", fs.Arg(0))
}

func isFileFlag(f flagInfo) bool {
	switch f.name {
	case "config", "out", "seed":
		return true
	}
	return false
}

func bashCompletion(cmds []cmdInfo) string {
	var b strings.Builder
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.name
	}
	b.WriteString("# bash completion for rostersync (rostersync completion bash)\n")
	b.WriteString("_rostersync() {\n\tlocal cur prev cmd opts\n\tcur=\"${COMP_WORDS[COMP_CWORD]}\"\n\tprev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n")
	fmt.Fprintf(&b, "\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n\t\tCOMPREPLY=( $(compgen -W %q -- \"$cur\") )\n\t\treturn\n\tfi\n", strings.Join(append(names, "--version", "--help"), " "))
	b.WriteString("\tcmd=\"${COMP_WORDS[1]}\"\n\tcase \"$cmd $prev\" in\n")
	for _, c := range cmds {
		for _, f := range c.flags {
			switch {
			case len(f.values) > 0:
				fmt.Fprintf(&b, "\t\"%s -%s\") COMPREPLY=( $(compgen -W %q -- \"$cur\") ); return ;;\n", c.name, f.name, strings.Join(f.values, " "))
			case f.name == "state-dir":
				fmt.Fprintf(&b, "\t\"%s -%s\") COMPREPLY=( $(compgen -d -- \"$cur\") ); return ;;\n", c.name, f.name)
			case isFileFlag(f):
				fmt.Fprintf(&b, "\t\"%s -%s\") COMPREPLY=( $(compgen -f -- \"$cur\") ); return ;;\n", c.name, f.name)
			case f.value:
				fmt.Fprintf(&b, "\t\"%s -%s\") COMPREPLY=(); return ;;\n", c.name, f.name)
			}
		}
	}
	b.WriteString("\tesac\n\tcase \"$cmd\" in\n")
	for _, c := range cmds {
		var opts []string
		for _, f := range c.flags {
			opts = append(opts, "-"+f.name)
		}
		if len(c.subs) > 0 {
			fmt.Fprintf(&b, "\t%s) if [ \"$COMP_CWORD\" -eq 2 ]; then opts=%q; else opts=%q; fi ;;\n", c.name, strings.Join(c.subs, " "), strings.Join(opts, " "))
			continue
		}
		fmt.Fprintf(&b, "\t%s) opts=%q ;;\n", c.name, strings.Join(opts, " "))
	}
	b.WriteString("\t*) opts=\"\" ;;\n\tesac\n")
	b.WriteString("\tif [ \"$cmd\" = apply ] && [[ \"$cur\" != -* ]]; then\n\t\tCOMPREPLY=( $(compgen -f -- \"$cur\") )\n\t\treturn\n\tfi\n")
	b.WriteString("\tCOMPREPLY=( $(compgen -W \"$opts\" -- \"$cur\") )\n}\ncomplete -F _rostersync rostersync\n")
	return b.String()
}

// zshQuote makes s safe inside a single-quoted _arguments description.
func zshQuote(s string) string {
	return strings.NewReplacer(`'`, `'\''`, `[`, `\[`, `]`, `\]`).Replace(s)
}

// zshDescribe makes s safe as a single-quoted _describe "name:description".
func zshDescribe(s string) string {
	return strings.NewReplacer(`'`, `'\''`, `:`, `\:`).Replace(s)
}

func zshCompletion(cmds []cmdInfo) string {
	var b strings.Builder
	b.WriteString("#compdef rostersync\n# zsh completion for rostersync (rostersync completion zsh)\n\n_rostersync() {\n")
	b.WriteString("\tlocal -a commands\n\tcommands=(\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t\t'%s:%s'\n", c.name, zshDescribe(c.summary))
	}
	b.WriteString("\t)\n\tif (( CURRENT == 2 )); then\n\t\t_describe -t commands 'rostersync command' commands\n\t\treturn\n\tfi\n")
	b.WriteString("\tlocal cmd=$words[2]\n\tshift words\n\t(( CURRENT-- ))\n\tcase $cmd in\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t%s)\n\t\t_arguments -s", c.name)
		if len(c.subs) > 0 {
			fmt.Fprintf(&b, " \\\n\t\t\t'1:%s:(%s)'", c.name, strings.Join(c.subs, " "))
		}
		for _, f := range c.flags {
			spec := fmt.Sprintf("-%s[%s]", f.name, zshQuote(f.usage))
			switch {
			case len(f.values) > 0:
				spec += fmt.Sprintf(":%s:(%s)", f.name, strings.Join(f.values, " "))
			case f.name == "state-dir":
				spec += ":directory:_files -/"
			case isFileFlag(f):
				spec += ":file:_files"
			case f.value:
				spec += ":" + f.name + ": "
			}
			fmt.Fprintf(&b, " \\\n\t\t\t'%s'", spec)
		}
		if c.name == "apply" {
			b.WriteString(" \\\n\t\t\t'1:saved plan:_files'")
		}
		b.WriteString("\n\t\t;;\n")
	}
	b.WriteString("\tesac\n}\n\nif [ \"$funcstack[1]\" = \"_rostersync\" ]; then\n\t_rostersync \"$@\"\nelse\n\tcompdef _rostersync rostersync\nfi\n")
	return b.String()
}
