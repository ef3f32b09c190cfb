package ldap

// SetCursorCookie replaces the kept syncrepl cookie, to test what an
// invalid one does.
func SetCursorCookie(s *Source, cookie string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.delta.cur != nil {
		s.delta.cur.Cookie = cookie
	}
}

// SetCursorUSN replaces the kept USN cursor.
func SetCursorUSN(s *Source, usn int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.delta.cur != nil {
		s.delta.cur.USN = usn
	}
}
