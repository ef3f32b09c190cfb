package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type received struct {
	path string
	body []byte
	sig  string
}

// hookServer answers each path with the given statuses in turn (then 200)
// and records what it got.
type hookServer struct {
	mu      sync.Mutex
	got     []received
	answers map[string][]int
	hang    chan struct{}
}

func (s *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/hang" {
		<-s.hang
	}
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.got = append(s.got, received{r.URL.Path, b, r.Header.Get("X-Rostersync-Signature")})
	code := 200
	if a := s.answers[r.URL.Path]; len(a) > 0 {
		code, s.answers[r.URL.Path] = a[0], a[1:]
	}
	s.mu.Unlock()
	w.WriteHeader(code)
}

func (s *hookServer) byPath(p string) []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []received
	for _, g := range s.got {
		if g.path == p {
			out = append(out, g)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEveryFormatIsDeliveredAndRetried(t *testing.T) {
	srv := &hookServer{answers: map[string][]int{"/json": {503, 429}, "/gone": {404}}, hang: make(chan struct{})}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer close(srv.hang)
	n := New(Config{
		Hooks:  []Hook{{"json", ts.URL + "/json"}, {"slack", ts.URL + "/slack"}, {"teams", ts.URL + "/teams"}, {"json", ts.URL + "/gone"}},
		Secret: "s3cret", Backoff: time.Millisecond, Attempts: 4,
	})
	defer n.Close(time.Second)
	ev := Event{Kind: Held, Title: "2 operations held for approval", Text: "deactivate user ben.carter@example.com <E1002>",
		Facts: map[string]string{"target": "evaluagent"}, Link: "http://127.0.0.1:9380/"}
	start := time.Now()
	n.Send(ev)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Send took %s; it must not wait for delivery", d)
	}
	waitFor(t, "the JSON hook's third attempt", func() bool { return len(srv.byPath("/json")) == 3 })
	waitFor(t, "slack and teams", func() bool { return len(srv.byPath("/slack")) == 1 && len(srv.byPath("/teams")) == 1 })

	j := srv.byPath("/json")[2]
	var generic map[string]any
	if err := json.Unmarshal(j.body, &generic); err != nil || generic["event"] != "held" || generic["severity"] != "warning" || generic["title"] != ev.Title {
		t.Errorf("generic JSON %s (%v)", j.body, err)
	}
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write(j.body)
	if j.sig != "sha256="+hex.EncodeToString(m.Sum(nil)) {
		t.Errorf("signature %q does not sign the body", j.sig)
	}

	var slack struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text struct{ Type, Text string }
		} `json:"blocks"`
	}
	if err := json.Unmarshal(srv.byPath("/slack")[0].body, &slack); err != nil || len(slack.Blocks) < 2 ||
		slack.Blocks[0].Text.Type != "mrkdwn" || !strings.Contains(slack.Blocks[0].Text.Text, "&lt;E1002&gt;") ||
		!strings.HasPrefix(slack.Text, ev.Title) {
		t.Errorf("Slack payload %s (%v)", srv.byPath("/slack")[0].body, err)
	}

	var teams struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type    string `json:"type"`
				Version string `json:"version"`
				Body    []struct{ Type, Text string }
				Actions []struct{ Type, URL string }
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(srv.byPath("/teams")[0].body, &teams); err != nil || teams.Type != "message" ||
		len(teams.Attachments) != 1 || teams.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" ||
		teams.Attachments[0].Content.Type != "AdaptiveCard" || teams.Attachments[0].Content.Body[0].Text != ev.Title ||
		len(teams.Attachments[0].Content.Actions) != 1 || teams.Attachments[0].Content.Actions[0].URL != ev.Link {
		t.Errorf("Teams payload %s (%v)", srv.byPath("/teams")[0].body, err)
	}
	if got := len(srv.byPath("/gone")); got != 1 {
		t.Errorf("a 404 was tried %d times; a refusal is not retried", got)
	}
}

func TestASlowHookNeverBlocksTheSender(t *testing.T) {
	srv := &hookServer{hang: make(chan struct{})}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	n := New(Config{Hooks: []Hook{{"json", ts.URL + "/hang"}}, Queue: 2, Backoff: time.Millisecond})
	start := time.Now()
	for range 50 {
		n.Send(Event{Kind: PassFailed, Title: "pass failed"})
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("50 sends to a hanging webhook took %s", d)
	}
	close(srv.hang)
	n.Close(5 * time.Second)
}

func TestReadHooksNamesBadLinesWithoutTheirURL(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hooks")
	os.WriteFile(p, []byte("# ops\nslack https://hooks.slack.com/services/T/B/SECRET\n\nteams https://x.example/wf\njson https://ops.example/h\n"), 0o600)
	hooks, err := ReadHooks(p)
	if err != nil || len(hooks) != 3 || hooks[0].Format != "slack" || hooks[2].URL != "https://ops.example/h" {
		t.Fatalf("ReadHooks = %v, %v", hooks, err)
	}
	os.WriteFile(p, []byte("discord https://d.example/SECRET1\nslack ftp://x/SECRET2\nhttps://only-a-url/SECRET3\n"), 0o600)
	_, err = ReadHooks(p)
	if err == nil {
		t.Fatal("bad lines accepted")
	}
	for _, want := range []string{p + ":1:", p + ":2:", p + ":3:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("the error shows a URL: %v", err)
	}
}
