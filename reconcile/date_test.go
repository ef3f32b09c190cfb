package reconcile

import (
	"encoding/json"
	"testing"
	"time"
)

// TestDateReadsAndWritesAsTheStringItReplaced holds Date to the
// "YYYY-MM-DD" string it stands for: every day of four years round trips
// through ParseDate and String, what is no date is refused, and a User's
// start_date reads and writes in JSON as it did.
func TestDateReadsAndWritesAsTheStringItReplaced(t *testing.T) {
	for day := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC); day.Year() < 2027; day = day.AddDate(0, 0, 1) {
		s := day.Format(time.DateOnly)
		d, err := ParseDate(s)
		if err != nil || d.String() != s || d != DateOf(day) {
			t.Fatalf("ParseDate(%q) = %d (%q), %v; DateOf = %d", s, d, d.String(), err, DateOf(day))
		}
	}
	for _, bad := range []string{"2024-02-30", "2024-1-5", "15/01/2024", "2024-01-15T09:00:00Z", " "} {
		if d, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) = %v, want an error", bad, d)
		}
	}
	if d, err := ParseDate(""); d != 0 || err != nil || d.String() != "" {
		t.Errorf(`ParseDate("") = %d, %v`, d, err)
	}
	b, err := json.Marshal(User{Username: "a", StartDate: 20240115})
	if err != nil || string(b) != `{"username":"a","forename":"","surname":"","start_date":"2024-01-15","active":false,"roles":[]}` {
		t.Fatalf("marshal: %s, %v", b, err)
	}
	if b, _ := json.Marshal(User{Username: "a"}); string(b) != `{"username":"a","forename":"","surname":"","active":false,"roles":[]}` {
		t.Fatalf("marshal without a date: %s", b)
	}
	var u User
	if err := json.Unmarshal([]byte(`{"start_date":"2023-05-04"}`), &u); err != nil || u.StartDate != 20230504 {
		t.Fatalf("unmarshal: %d, %v", u.StartDate, err)
	}
	if err := json.Unmarshal([]byte(`{"start_date":"2023-13-04"}`), &u); err == nil {
		t.Fatal("unmarshal of month 13: no error")
	}
}
