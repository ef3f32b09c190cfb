package csv

import (
	"bufio"
	"io"
	"unicode/utf8"
)

// utf8Lines passes a file's bytes through as they are read, noting the
// physical lines (from 1) that hold bytes which are not UTF-8. It lets a
// file be parsed as it is read, rather than read whole to be checked first:
// for an export of a million people that whole copy is most of what the
// read holds.
type utf8Lines struct {
	r       *bufio.Reader
	pending []byte // what the last ReadSlice returned and Read has not handed on
	err     error  // the error that ended the last ReadSlice, once pending is drained
	line    int    // the physical line of the next byte
	carry   []byte // the start of a rune cut by the end of a long line's chunk
	bad     bool   // the current line is already noted
	invalid []int
}

func newUTF8Lines(r *bufio.Reader) *utf8Lines { return &utf8Lines{r: r, line: 1} }

func (u *utf8Lines) Read(p []byte) (int, error) {
	for len(u.pending) == 0 {
		if u.err != nil {
			return 0, u.err
		}
		chunk, err := u.r.ReadSlice('\n')
		switch err {
		case nil:
			u.check(chunk, true)
		case bufio.ErrBufferFull:
			u.check(chunk, false)
			err = nil
		default:
			u.check(chunk, true) // the last line, without a line end
		}
		u.pending, u.err = chunk, err
	}
	n := copy(p, u.pending)
	u.pending = u.pending[n:]
	return n, nil
}

// check validates the next chunk of the current line; ends says it is the
// line's last chunk.
func (u *utf8Lines) check(chunk []byte, ends bool) {
	if len(u.carry) > 0 {
		chunk = append(u.carry, chunk...) // only past a chunk boundary inside a rune: rare
		u.carry = nil
	}
	if !ends {
		// Keep a rune cut by the chunk's end for the next chunk.
		cut := len(chunk)
		for i := len(chunk) - 1; i >= 0 && i >= len(chunk)-utf8.UTFMax; i-- {
			if utf8.RuneStart(chunk[i]) {
				if !utf8.FullRune(chunk[i:]) {
					cut = i
				}
				break
			}
		}
		u.carry = append([]byte(nil), chunk[cut:]...)
		chunk = chunk[:cut]
	}
	if !u.bad && !utf8.Valid(chunk) {
		u.invalid = append(u.invalid, u.line)
		u.bad = true
	}
	if ends {
		u.line++
		u.bad = false
	}
}

// drain reads what is left, so that every invalid line is noted.
func (u *utf8Lines) drain() error {
	_, err := io.Copy(io.Discard, u)
	return err
}
