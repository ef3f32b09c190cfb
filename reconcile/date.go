package reconcile

import (
	"fmt"
	"time"
)

// Date is a calendar date, held as the number YYYYMMDD: 4 bytes where the
// "YYYY-MM-DD" string it stands for held 16 in every User, and beside
// Active it fills what was padding. The zero Date is no date. It reads
// and writes as "YYYY-MM-DD" in JSON, and as "" when zero.
type Date uint32

// ParseDate reads s as YYYY-MM-DD; "" is the zero Date.
func ParseDate(s string) (Date, error) {
	if s == "" {
		return 0, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return DateOf(t), nil
}

// DateOf is the date of t, as t's location has it.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date(y*10000 + int(m)*100 + d)
}

// String is the date as YYYY-MM-DD, or "" for the zero Date.
func (d Date) String() string {
	if d == 0 {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d/10000, d/100%100, d%100)
}

// MarshalText writes the date as String does.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads the date as ParseDate does.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
