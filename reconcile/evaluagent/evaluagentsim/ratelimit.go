package evaluagentsim

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

type windowKey struct {
	key      string
	endpoint string
}

// window holds one key's use of one endpoint in the current calendar minute and UTC day.
type window struct {
	minute  time.Time
	minuteN int
	day     time.Time
	dayN    int
}

// limit admits a request against the key's budget for the endpoint (§4), or returns the 429.
// Windows are fixed (calendar minute, UTC day); a rejected request uses no budget.
func (s *Server) limit(keyID, endpoint string, now time.Time) *response {
	wk := windowKey{keyID, endpoint}
	w := s.windows[wk]
	if w == nil {
		w = &window{}
		s.windows[wk] = w
	}
	minute := now.Truncate(time.Minute)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if !w.minute.Equal(minute) {
		w.minute, w.minuteN = minute, 0
	}
	if !w.day.Equal(day) {
		w.day, w.dayN = day, 0
	}
	if w.dayN >= s.perDay {
		resp := tooMany(day.AddDate(0, 0, 1).Sub(now),
			fmt.Sprintf("Rate limit of %d requests per day exceeded for this endpoint.", s.perDay))
		return &resp
	}
	if w.minuteN >= s.perMinute {
		resp := tooMany(minute.Add(time.Minute).Sub(now),
			fmt.Sprintf("Rate limit of %d requests per minute exceeded for this endpoint.", s.perMinute))
		return &resp
	}
	w.minuteN++
	w.dayN++
	return nil
}

// tooMany is the §4 429 with Retry-After in whole seconds, rounded up, until the window resets.
func tooMany(wait time.Duration, detail string) response {
	secs := int64((wait + time.Second - 1) / time.Second)
	resp := errResp(http.StatusTooManyRequests, detail)
	resp.header = http.Header{"Retry-After": {strconv.FormatInt(max(secs, 1), 10)}}
	return resp
}
