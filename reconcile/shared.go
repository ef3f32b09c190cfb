package reconcile

// Shared hands out one copy of each string it is given, so that values many
// people hold alike (team ids, start dates, common names) are kept once per
// pass rather than once per person. With Limit above 0, a value first seen
// once Limit distinct values are held is returned as given: a column whose
// values all differ then costs a bounded table. The zero value shares
// without a limit.
type Shared struct {
	Limit int
	m     map[string]string
}

// Of returns the held copy of v, holding v when there is room.
func (s *Shared) Of(v string) string {
	if c, ok := s.m[v]; ok {
		return c
	}
	if s.Limit <= 0 || len(s.m) < s.Limit {
		if s.m == nil {
			s.m = map[string]string{}
		}
		s.m[v] = v
	}
	return v
}

// OfBytes is Of for a value held in b, which it copies only when it is not
// held already.
func (s *Shared) OfBytes(b []byte) string {
	if c, ok := s.m[string(b)]; ok {
		return c
	}
	return s.Of(string(b))
}
