package mapping

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/sources"
)

// Problem is a person or team that could not be mapped as the sources say.
type Problem struct {
	// Kind is what Key names: a user, or a team for a team conflict.
	Kind reconcile.Kind `json:"kind"`
	// Key is the person's key (or the team's key for a team conflict).
	Key string `json:"key"`
	// Origin is where the record came from ("people.csv:12").
	Origin  string `json:"origin"`
	Message string `json:"message"`
	// Record is true when the source itself said the record is no person
	// (sources.Record.Problem): such problems are shown in the plan.
	Record bool `json:"record,omitempty"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s: %s", p.Origin, p.Key, p.Message)
}

// Result is the outcome of mapping a set of source snapshots.
type Result struct {
	// Desired is the state the platform should hold, users and teams sorted
	// by key.
	Desired *reconcile.Snapshot
	// Problems lists everything that could not be mapped, in source order.
	Problems []Problem
	// Excluded lists the usernames of records that exclude matched, sorted.
	Excluded []string
	// OutOfScope counts the records that scope left out.
	OutOfScope int
	// Fields says, for each mapped user of a merged source (by key), where
	// each field's value came from and whether it is stale. Nil when no
	// record carried provenance.
	Fields map[string]map[reconcile.Field]FieldSource
}

// Explanation says what the rules make of one record.
type Explanation struct {
	Key    string `json:"key"`
	Origin string `json:"origin"`
	// ExcludedBy names the exclude rule that matched, as
	// "exclude.patterns[0] (^svc-)"; empty when none did.
	ExcludedBy string `json:"excluded_by,omitempty"`
	// InScope is true when the record is not excluded and every scope
	// condition holds.
	InScope bool `json:"in_scope"`
	// OutOfScopeBy says which scope condition failed and why.
	OutOfScopeBy string `json:"out_of_scope_by,omitempty"`
	// User is the mapped user; nil when excluded, out of scope, or when
	// there are problems.
	User *reconcile.User `json:"user,omitempty"`
	// Teams are the user's team and its ancestors, outermost first.
	Teams []reconcile.Team `json:"teams,omitempty"`
	// Problems say why the record could not be mapped.
	Problems []string `json:"problems,omitempty"`
	// Computed lists what each computed attribute came to, with its inputs.
	Computed []ComputedValue `json:"computed,omitempty"`
	// Fields says where each mapped field came from, for a merged record.
	Fields map[reconcile.Field]FieldSource `json:"fields,omitempty"`
}

// Explain maps one record on its own and says why it came out as it did.
// Problems that need other records (duplicates, team conflicts) are found by
// Map only.
func (r *Rules) Explain(rec sources.Record) Explanation {
	return r.mapRecord(&rec, &scratch{})
}

// Excludes reports whether username is one rostersync must never touch.
// The reconciler uses it for platform users that no source mentions.
func (r *Rules) Excludes(username string) bool {
	return r.excludedBy(username) != ""
}

// ExcludesGroup reports whether the platform group named name is one
// rostersync must never touch (exclude.groups).
func (r *Rules) ExcludesGroup(name string) bool {
	return r.exclGroups[strings.ToLower(strings.TrimSpace(name))]
}

// ExcludesRoles reports whether a user holding roles (machine names) is one
// rostersync must never touch (exclude.roles), and names the role.
func (r *Rules) ExcludesRoles(roles []string) (string, bool) {
	for _, role := range roles {
		if r.exclRoles[strings.ToLower(strings.TrimSpace(role))] {
			return role, true
		}
	}
	return "", false
}

func (r *Rules) excludedBy(username string) string {
	u := strings.ToLower(strings.TrimSpace(username))
	if u == "" {
		return ""
	}
	if r.exclUsers[u] {
		return fmt.Sprintf("exclude.usernames (%s)", u)
	}
	for i, re := range r.exclPatterns {
		if re.MatchString(strings.TrimSpace(username)) {
			return fmt.Sprintf("exclude.patterns[%d] (%s)", i, re)
		}
	}
	return ""
}

// Map turns source snapshots into the desired state. Nil snapshots are
// skipped. Records are mapped source by source, each sorted by key, so the
// first of two duplicates is the one kept.
func (r *Rules) Map(snaps []*sources.Snapshot) *Result {
	b := r.NewBuilder()
	for _, snap := range snaps {
		if snap == nil {
			continue
		}
		for i := range snap.Records {
			b.Add(&snap.Records[i])
		}
		b.EndSource(snap.Source, snap.Health)
	}
	return b.Result()
}

// Builder maps records one at a time, as a sources.Streamer hands them
// over, and keeps only what the result needs (the mapped user, its team
// chain, or the problems), never the record. Records are added source by
// source, EndSource closing each; within a source they may come in any
// order: the outcome is the one Map gives for the same records.
type Builder struct {
	r   *Rules
	res *Result
	// byKey, byUsername and byEmail find the kept person holding a key, a
	// lower-cased username or a lower-cased email, by the person's
	// position in users once EndSource has put them in key order.
	byKey, byUsername, byEmail uniqueIndex
	// partial says byUsername and byEmail hold only the values that came
	// up more than once in the first source (see EndSource).
	partial  bool
	seed     maphash.Seed
	hash     func(string) uint64 // the indexes' hash; nil: maphash's
	teams    map[string]reconcile.Team
	unmapped int
	// users holds the mapped users of every source; the current source's
	// start at from. pending says, for each of its in-scope records, what
	// EndSource must settle. Both grow in blocks: a million people are
	// never copied while they arrive.
	users   reconcile.Blocks[reconcile.User]
	from    int
	pending reconcile.Blocks[pending]
	more    []pendingMore
	// chains interns team chains (without origins): a few distinct ones
	// are shared by everybody.
	chains  [][]reconcile.Team
	chainOf map[string]int32
	// scratch and chainKey are reused from one record to the next: mapping
	// a person allocates nothing that is not kept.
	scratch  scratch
	chainKey []byte
}

// scratch is what mapping one record fills and the caller copies what it
// keeps of: the user, and the team chain with the names it is built from.
type scratch struct {
	user          reconcile.User
	names, levels []string
	teams         []reconcile.Team
	// roles and queues are a person's name sets as they are gathered;
	// sets holds one copy of each set made, by its names each followed by
	// a 0 byte, so that a million people keep a handful (see namesOf).
	roles, queues []string
	sets          map[string]reconcile.Names
	setKey        []byte
}

// namesOf returns the set of names, the copy made for an earlier person
// when there is one. names is the scratch's and is not kept.
func (sc *scratch) namesOf(names []string) reconcile.Names {
	if len(names) == 0 {
		return reconcile.Names{}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	sc.setKey = sc.setKey[:0]
	for _, n := range names {
		sc.setKey = append(append(sc.setKey, n...), 0)
	}
	if set, ok := sc.sets[string(sc.setKey)]; ok {
		return set
	}
	set := reconcile.NamesOf(slices.Clone(names)...)
	if sc.sets == nil {
		sc.sets = map[string]reconcile.Names{}
	}
	if len(sc.sets) < shareLimit {
		sc.sets[string(sc.setKey)] = set
	}
	return set
}

// pending is one in-scope record of the current source, small because
// there is one per person (16 bytes: at 1M people, 32 MB less than with the
// rarer facts inline, held through the whole read).
type pending struct {
	seq   int32 // arrival order, for a stable sort
	user  int32 // index in users, or -1 with problems
	chain int32 // index in chains, or -1
	more  int32 // index in Builder.more, or -1: keyed as its user, no problems, no provenance
}

// keyedPending is a pending record with its sort key, for a full sort.
type keyedPending struct {
	key string
	p   pending
}

// pendingMore is what some records need beside their pending entry: those
// keyed otherwise than their user, those with problems, and those with
// provenance (every record of a merged source has some).
type pendingMore struct {
	key    string // the record's key, when its user has another (or none)
	hasKey bool
	prob   *Explanation
	fields map[reconcile.Field]FieldSource
}

// NewBuilder starts an empty result.
func (r *Rules) NewBuilder() *Builder {
	return &Builder{
		r:       r,
		res:     &Result{Desired: &reconcile.Snapshot{Users: []reconcile.User{}, Teams: []reconcile.Team{}}},
		teams:   map[string]reconcile.Team{},
		chainOf: map[string]int32{},
	}
}

// SizeHint says about how many people are to come (the last pass's
// count): the result reserves room for them at once, rather than gathering
// them in blocks and copying them into one slice at the end.
func (b *Builder) SizeHint(n int) {
	b.users.Grow(n + n/64) // room for a little growth since
	b.pending.Grow(n + n/64)
}

// shareLimit bounds the table of name sets (see scratch.namesOf): past it
// a set is made for each person who holds it (a source whose people each
// hold a set of their own would gain nothing from the table).
const shareLimit = 4096

// valueSlots are the slots in seen of one kind of value (lower-cased
// usernames or emails) of a source's pending people, by their place in
// key order: 4 bytes a person where the whole hash would take 8, while
// the few values that come up again are hashed a second time.
type valueSlots struct {
	slots []uint32
	seen  repeats
}

// countValues counts value of each pending person that has one, an empty
// value too when withEmpty.
func (b *Builder) countValues(pend []pending, more []pendingMore, value func(*reconcile.User) string, withEmpty bool) valueSlots {
	vs := valueSlots{slots: make([]uint32, len(pend)), seen: newRepeats(len(pend))}
	hash := b.hashFunc()
	for k, p := range pend {
		if p.more >= 0 && more[p.more].prob != nil {
			continue
		}
		v := value(b.users.At(int(p.user)))
		if v == "" && !withEmpty {
			continue
		}
		s := vs.seen.slot(hash(strings.ToLower(v)))
		vs.slots[k] = s
		vs.seen.add(s)
	}
	return vs
}

// again reports whether the k-th pending person's value may be held by
// another person of the source.
func (vs *valueSlots) again(k int) bool { return vs.seen.many(vs.slots[k]) }

// newIndex makes an index sized for n people, with the Builder's hash.
func (b *Builder) newIndex(n int) uniqueIndex {
	return newUniqueIndex(b.hashFunc(), n)
}

// hashFunc is the indexes' hash.
func (b *Builder) hashFunc() func(string) uint64 {
	if b.hash != nil {
		return b.hash
	}
	seed := b.seed
	return func(s string) uint64 { return maphash.String(seed, s) }
}

// Add maps one record of the current source. rec is not kept.
func (b *Builder) Add(rec *sources.Record) {
	if rec.Problem != "" {
		// Not a person: nothing is left out, so the desired state stays whole.
		b.res.Problems = append(b.res.Problems, Problem{Kind: reconcile.KindUser, Key: rec.Key, Origin: rec.Origin, Message: rec.Problem, Record: true})
		return
	}
	ex := b.r.mapRecord(rec, &b.scratch)
	switch {
	case ex.ExcludedBy != "":
		b.res.Excluded = append(b.res.Excluded, strings.TrimSpace(rec.Get(b.r.user.Username)))
		return
	case !ex.InScope:
		b.res.OutOfScope++
		return
	}
	p := pending{seq: int32(b.pending.Len()), user: -1, chain: -1, more: -1}
	var m pendingMore
	if len(ex.Problems) > 0 {
		prob := ex // a copy: taking ex's address would move it to the heap for everybody
		prob.User, prob.Teams = nil, nil
		m.prob = &prob
	} else {
		p.user = int32(b.users.Len())
		b.users.Append(*ex.User)
		p.chain = b.chain(ex.Teams)
		m.fields = ex.Fields
	}
	if p.user < 0 || ex.User.Key != rec.Key {
		m.key, m.hasKey = rec.Key, true
	}
	if m.hasKey || m.prob != nil || m.fields != nil {
		p.more = int32(len(b.more))
		b.more = append(b.more, m)
	}
	b.pending.Append(p)
}

// chain interns a team chain, origins left out.
func (b *Builder) chain(teams []reconcile.Team) int32 {
	if len(teams) == 0 {
		return -1
	}
	k := b.chainKey[:0]
	for _, t := range teams {
		k = strconv.AppendQuote(k, t.Key)
		k = strconv.AppendQuote(k, t.Name)
		k = strconv.AppendQuote(k, t.Parent)
		k = strconv.AppendQuote(k, t.Level)
		k = strconv.AppendBool(k, t.Active)
		k = append(k, 0)
	}
	b.chainKey = k
	if i, ok := b.chainOf[string(k)]; ok {
		return i
	}
	c := slices.Clone(teams)
	for i := range c {
		c[i].Origin = ""
	}
	i := int32(len(b.chains))
	b.chains = append(b.chains, c)
	b.chainOf[string(k)] = i
	return i
}

// EndSource settles the records added since the last EndSource, in key
// order, as the records of source name read with health h.
func (b *Builder) EndSource(name string, h sources.Health) {
	res := b.res
	if !h.Complete {
		reason := h.Reason
		if reason == "" {
			reason = "incomplete"
		}
		res.Desired.Incomplete = append(res.Desired.Incomplete, fmt.Sprintf("source %s: %s", name, reason))
	}
	problemOf := func(kind reconcile.Kind, key, origin, format string, args ...any) {
		res.Problems = append(res.Problems, Problem{Kind: kind, Key: key, Origin: origin, Message: fmt.Sprintf(format, args...)})
	}
	problem := func(key, origin, format string, args ...any) {
		problemOf(reconcile.KindUser, key, origin, format, args...)
	}
	// Records often come in key order, or nearly (an HR export sorted by
	// employee number): sortMostlySorted then walks them once.
	pend := b.pending.Slice()
	more := b.more
	b.more = nil
	sortKey := func(p pending) string {
		if p.more >= 0 && more[p.more].hasKey {
			return more[p.more].key
		}
		return b.users.At(int(p.user)).Key
	}
	byKey := func(x, y pending) int {
		if c := strings.Compare(sortKey(x), sortKey(y)); c != 0 {
			return c
		}
		return int(x.seq - y.seq)
	}
	if !sortMostlySorted(pend, byKey) {
		// Far from key order (a directory keyed by UUID): each record's
		// key is put beside it for the sort, which would otherwise reach
		// into the users for two keys a comparison.
		keyed := make([]keyedPending, len(pend))
		for i, p := range pend {
			keyed[i] = keyedPending{sortKey(p), p}
		}
		slices.SortFunc(keyed, func(x, y keyedPending) int {
			return cmp.Or(strings.Compare(x.key, y.key), int(x.p.seq-y.p.seq))
		})
		for i := range keyed {
			pend[i] = keyed[i].p
		}
	}
	keep := make([]bool, b.users.Len()-b.from)
	order := make([]int32, 0, len(keep)) // the users kept, in key order
	if b.seed == (maphash.Seed{}) {
		b.seed = maphash.MakeSeed()
	}
	// With nobody kept before this source, a username or email can only be
	// refused for another person of this source holding it too: a first
	// walk counts the values' hashes, and only the values whose hash came
	// up again go through the indexes. The indexes then hold those alone,
	// and are filled with everybody kept if another source follows.
	sparse := b.from == 0
	var usernames, emails valueSlots
	if sparse {
		usernames = b.countValues(pend, more, func(u *reconcile.User) string { return u.Username }, true)
		emails = b.countValues(pend, more, func(u *reconcile.User) string { return u.Email }, false)
		b.byUsername, b.byEmail = b.newIndex(0), b.newIndex(0)
	}
	// The indexes name a kept person by the place the person takes once
	// this source's users are in key order; until then, this source's
	// k-th kept user is at b.from+order[k].
	kept := func(i int32) *reconcile.User {
		if k := int(i) - b.from; k >= 0 {
			return b.users.At(b.from + int(order[k]))
		}
		return b.users.At(int(i))
	}
	keyOf := func(i int32) string { return kept(i).Key }
	usernameOf := func(i int32) string { return strings.ToLower(kept(i).Username) }
	emailOf := func(i int32) string { return strings.ToLower(kept(i).Email) }
	// When nobody was kept before this source and everybody in it is
	// keyed as their record, the key order puts a repeated key beside the
	// person kept with it, and no index by key is needed: a million hashed
	// lookups and inserts fewer (0.2 s of a 1M pass's CPU). A source after
	// people were kept, or a person keyed otherwise, needs the index; it
	// is built then from the people kept.
	byKeyIndex := b.byKey.first != nil || b.from > 0
	for _, m := range more {
		byKeyIndex = byKeyIndex || m.hasKey && m.prob == nil
	}
	// fill makes x an index of the people kept before this source, by
	// valueOf, leaving out empty values unless withEmpty.
	fill := func(x *uniqueIndex, valueOf func(int32) string, withEmpty bool) {
		*x = b.newIndex(b.from + len(pend))
		for i := range int32(b.from) {
			if v := valueOf(i); v != "" || withEmpty {
				_, _, at := x.find(v, valueOf)
				x.add(v, at, i)
			}
		}
	}
	if byKeyIndex && b.byKey.first == nil {
		fill(&b.byKey, keyOf, true)
	}
	if b.partial && !sparse {
		fill(&b.byUsername, usernameOf, true)
		fill(&b.byEmail, emailOf, false)
	}
	b.partial = sparse
	// held looks u's value up, lower-cased, in x; when a kept person holds it, u is refused
	// with format (the value, the holder's key and origin).
	held := func(x *uniqueIndex, valueOf func(int32) string, u *reconcile.User, value, format string) (lower string, at spot, refused bool) {
		lower = strings.ToLower(value)
		i, dup, at := x.find(lower, valueOf)
		if dup {
			other := kept(i)
			problem(u.Key, u.Origin, format, value, other.Key, other.Origin)
			b.unmapped++
		}
		return lower, at, dup
	}
	var last *reconcile.User // the last person kept, when there is no index by key
	for k, p := range pend {
		var m pendingMore
		if p.more >= 0 {
			m = more[p.more]
		}
		if ex := m.prob; ex != nil {
			for _, msg := range ex.Problems {
				problem(ex.Key, ex.Origin, "%s", msg)
			}
			b.unmapped++
			continue
		}
		u := b.users.At(int(p.user))
		var keyAt spot
		holder := last // without an index, the one a repeated key can repeat
		if byKeyIndex {
			i, dup, at := b.byKey.find(u.Key, keyOf)
			holder, keyAt = nil, at
			if dup {
				holder = kept(i)
			}
		}
		if holder != nil && holder.Key == u.Key {
			problem(u.Key, u.Origin, "duplicate person key %q: also at %s, which is kept", u.Key, holder.Origin)
			continue
		}
		var lu, le string
		var usernameAt, emailAt spot
		var refused bool
		checkUsername := !sparse || usernames.again(k)
		if checkUsername {
			lu, usernameAt, refused = held(&b.byUsername, usernameOf, u, u.Username, "username %q is already used by %s (%s)")
			if refused {
				continue
			}
		}
		checkEmail := u.Email != "" && (!sparse || emails.again(k))
		if checkEmail {
			le, emailAt, refused = held(&b.byEmail, emailOf, u, u.Email, "email %q is already used by %s (%s); the platform needs each email once")
			if refused {
				continue
			}
		}
		at := int32(b.from + len(order))
		if byKeyIndex {
			b.byKey.add(u.Key, keyAt, at)
		}
		last = u
		if checkUsername {
			b.byUsername.add(lu, usernameAt, at)
		}
		if checkEmail {
			b.byEmail.add(le, emailAt, at)
		}
		keep[int(p.user)-b.from] = true
		order = append(order, p.user-int32(b.from))
		if m.fields != nil {
			if res.Fields == nil {
				res.Fields = map[string]map[reconcile.Field]FieldSource{}
			}
			res.Fields[u.Key] = m.fields
		}
		if p.chain < 0 {
			continue
		}
		for _, t := range b.chains[p.chain] {
			t.Origin = u.Origin
			prev, seen := b.teams[t.Key]
			if !seen {
				b.teams[t.Key] = t
				continue
			}
			if msg := teamConflict(prev, t); msg != "" {
				problemOf(reconcile.KindTeam, t.Key, t.Origin, "team %q %s", t.Key, msg)
			}
		}
	}
	// The users kept move into key order, the others after them, each user
	// moved once: when the key the mapping gives is the record's (as it
	// usually is), the result is then in order already and needs no sort.
	idx := order
	for i, k := range keep {
		if !k {
			idx = append(idx, int32(i))
		}
	}
	b.users.Permute(b.from, idx)
	b.from += len(order)
	b.users.Truncate(b.from)
}

// Result finishes the mapping. The Builder must not be used afterwards.
func (b *Builder) Result() *Result {
	res := b.res
	if b.users.Len() > 0 {
		res.Desired.Users = b.users.Slice()
	}
	if b.unmapped > 0 {
		res.Desired.Incomplete = append(res.Desired.Incomplete,
			fmt.Sprintf("mapping: %d in-scope %s not mapped (see the mapping problems)", b.unmapped, plural(b.unmapped, "person", "people")))
	}
	reconcile.SortUsers(res.Desired.Users, func(a, b *reconcile.User) int { return strings.Compare(a.Key, b.Key) })
	for _, k := range sortedKeys(b.teams) {
		res.Desired.Teams = append(res.Desired.Teams, b.teams[k])
	}
	res.Excluded = sortUnique(res.Excluded)
	// The templates the rules manage: only these are kept in line.
	for _, q := range b.r.queues {
		res.Desired.Queues = append(res.Desired.Queues, reconcile.Queue{Name: q.name, WholeMembership: q.whole})
	}
	return res
}

func teamConflict(prev, t reconcile.Team) string {
	var diffs []string
	if prev.Name != t.Name {
		diffs = append(diffs, fmt.Sprintf("name %q", t.Name))
	}
	if prev.Parent != t.Parent {
		diffs = append(diffs, fmt.Sprintf("parent %q", t.Parent))
	}
	if prev.Level != t.Level {
		diffs = append(diffs, fmt.Sprintf("level %q", t.Level))
	}
	if len(diffs) == 0 {
		return ""
	}
	return fmt.Sprintf("has %s here, but name %q, parent %q, level %q at %s, which is kept",
		strings.Join(diffs, ", "), prev.Name, prev.Parent, prev.Level, prev.Origin)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// mapRecord applies every rule that needs only this record. The user and
// the teams it returns are held in sc, which the next call reuses.
func (r *Rules) mapRecord(rec *sources.Record, sc *scratch) Explanation {
	if rec.Problem != "" {
		return Explanation{Key: rec.Key, Origin: rec.Origin, InScope: true, Problems: []string{rec.Problem}}
	}
	rec, computed, cerr := r.withComputed(rec)
	get := func(attr string) string {
		if attr == "" {
			return ""
		}
		return strings.TrimSpace(rec.Get(attr))
	}
	ex := Explanation{Key: rec.Key, Origin: rec.Origin, Computed: computed}
	if r.user.Key != "" {
		ex.Key = get(r.user.Key)
	}
	username := get(r.user.Username)
	if ex.ExcludedBy = r.excludedBy(username); ex.ExcludedBy != "" {
		return ex
	}
	for _, c := range r.scope {
		if err := c.err(rec); err != nil {
			// Not knowing is no reason to leave a person out.
			ex.InScope = true
			ex.Problems = append(ex.Problems, err.Error())
			return ex
		}
		if ok, why := c.holds(rec, nil); !ok {
			ex.OutOfScopeBy = why
			return ex
		}
	}
	ex.InScope = true

	problem := func(format string, args ...any) { ex.Problems = append(ex.Problems, fmt.Sprintf(format, args...)) }
	for _, e := range unjoinErrs(cerr) {
		problem("%v", e)
	}
	if ex.Key == "" {
		if r.user.Key != "" {
			problem("no key: attribute %q (user.key) is empty", r.user.Key)
		} else {
			problem("no key: the source gave the record none")
		}
		ex.Key = rec.Key
	}
	u := &sc.user
	*u = reconcile.User{
		Key:          ex.Key,
		ThirdPartyID: get(r.user.ThirdPartyID),
		Username:     username,
		Email:        get(r.user.Email),
		Forename:     get(r.user.Forename),
		Surname:      get(r.user.Surname),
		Active:       true,
		Origin:       rec.Origin,
	}
	if r.user.ThirdPartyID == "" {
		u.ThirdPartyID = u.Key
	}
	for name, attr := range r.user.Attributes {
		if v := get(attr); v != "" {
			if u.Attributes == nil {
				u.Attributes = map[string]string{}
			}
			u.Attributes[name] = v
		}
	}
	for _, f := range []struct{ field, attr, v string }{
		{"username", r.user.Username, u.Username},
		{"forename", r.user.Forename, u.Forename},
		{"surname", r.user.Surname, u.Surname},
	} {
		if f.v == "" {
			problem("no %s: attribute %q is empty", f.field, f.attr)
		}
	}
	if r.user.ThirdPartyID != "" && u.ThirdPartyID == "" {
		problem("no third_party_id: attribute %q is empty", r.user.ThirdPartyID)
	}
	if raw := get(r.user.StartDate); raw != "" {
		if d, ok := r.parseDate(raw); ok {
			u.StartDate = d
		} else {
			problem("start date %q in %q matches none of the layouts %q", raw, r.user.StartDate, r.layouts)
		}
	}
	if r.active != nil {
		u.Active, _ = r.active.holds(rec, nil)
	}
	sc.roles = r.mapRoles(sc.roles[:0], rec, problem)
	u.Roles = sc.namesOf(sc.roles)

	teams := r.mapTeams(rec, problem, sc)
	if len(teams) > 0 {
		u.Team = teams[len(teams)-1].Key
		ex.Teams = teams
	}
	sc.queues = sc.queues[:0]
	for _, q := range r.queues {
		if ok, _ := q.when.holds(rec, u.Roles.List()); ok {
			sc.queues = append(sc.queues, q.name)
		}
	}
	u.Queues = sc.namesOf(sc.queues)
	for _, q := range r.queues {
		if err := q.when.err(rec); err != nil {
			problem("%v", err)
		}
	}
	if len(ex.Problems) == 0 {
		ex.User = u
		ex.Fields = r.fieldSources(rec)

	}
	return ex
}

func (r *Rules) parseDate(raw string) (reconcile.Date, bool) {
	for _, l := range r.layouts {
		if t, err := time.Parse(l, raw); err == nil {
			return reconcile.DateOf(t), true
		}
	}
	return 0, false
}

// mapRoles appends the person's role machine names to roles, in no order.
func (r *Rules) mapRoles(roles []string, rec *sources.Record, problem func(string, ...any)) []string {
	if r.roleAttr != "" {
		for _, v := range rec.Values(r.roleAttr) {
			parts := []string{v}
			if r.roleSep != "" {
				parts = strings.Split(v, r.roleSep)
			}
			for _, p := range parts {
				p = strings.TrimSpace(p)
				if p == "" {
					continue
				}
				switch m, ok := r.roleValues[strings.ToLower(p)]; {
				case ok:
					roles = append(roles, m)
				case r.passthrough:
					roles = append(roles, strings.ReplaceAll(strings.ToLower(p), " ", "_"))
				default:
					problem("role value %q in %q is not in roles.values (add it there, or set roles.passthrough)", p, r.roleAttr)
				}
			}
		}
	}
	for _, g := range rec.Groups {
		if rs, ok := r.roleGroups[strings.ToLower(g.Name)]; ok {
			roles = append(roles, rs...)
		} else if rs, ok := r.roleGroups[strings.ToLower(g.Key)]; ok {
			roles = append(roles, rs...)
		}
	}
	if len(roles) == 0 {
		roles = append(roles, r.roleDefault...)
	}
	if len(roles) == 0 {
		problem("no role: nothing in roles.attr or roles.groups applies and roles.default is empty")
	}
	return roles
}

// mapTeams returns the person's team chain, outermost first, the person's
// own team last; nil when the person has no team.
func (r *Rules) mapTeams(rec *sources.Record, problem func(string, ...any), sc *scratch) []reconcile.Team {
	names, levels := sc.names[:0], sc.levels[:0]
	defer func() { sc.names, sc.levels = names[:0], levels[:0] }() // keep what they grew to
	var teamKey string
	var ancestorKeys map[int]string // from team.ancestors[i].key_attr
	switch r.teamMode {
	case teamNone:
		return nil
	case teamFromAttr, teamFromGroup, teamFromTable:
		var name string
		if r.teamMode == teamFromTable {
			var matched []string
			for _, g := range rec.Groups {
				n, ok := r.teamTable[strings.ToLower(g.Name)]
				if !ok {
					n, ok = r.teamTable[strings.ToLower(g.Key)]
				}
				if !ok {
					continue
				}
				if name == "" {
					name, teamKey = n, g.Key
					if teamKey == "" {
						teamKey = g.Name
					}
				}
				matched = append(matched, g.Name)
			}
			if len(matched) > 1 {
				problem("member of %d groups listed in team.groups (%s): a person can be in one team", len(matched), strings.Join(matched, ", "))
				return nil
			}
		} else if r.teamMode == teamFromAttr {
			name = strings.TrimSpace(rec.Get(r.teamAttr))
			if name != "" && r.teamKeyAttr != "" {
				if teamKey = strings.TrimSpace(rec.Get(r.teamKeyAttr)); teamKey == "" {
					problem("team %q has no key: attribute %q (team.key_attr) is empty", name, r.teamKeyAttr)
					return nil
				}
			}
		} else {
			var matched []string
			for _, g := range rec.Groups {
				m := r.teamPattern.FindStringSubmatch(g.Name)
				if m == nil {
					continue
				}
				n := m[0]
				if len(m) > 1 {
					n = m[1]
				}
				if name == "" {
					name, teamKey = strings.TrimSpace(n), g.Key
					if teamKey == "" {
						teamKey = g.Name
					}
				}
				matched = append(matched, g.Name)
			}
			if len(matched) > 1 {
				problem("member of %d team groups (%s): team.group_pattern must match one", len(matched), strings.Join(matched, ", "))
				return nil
			}
		}
		if name == "" {
			return nil
		}
		for i, a := range r.ancestors {
			v := strings.TrimSpace(rec.Get(a.Attr))
			if v == "" {
				problem("team %q: attribute %q (team.ancestors[%d]) is empty", name, a.Attr, i)
				return nil
			}
			names = append(names, v)
			levels = append(levels, a.Level)
			if a.KeyAttr != "" {
				k := strings.TrimSpace(rec.Get(a.KeyAttr))
				if k == "" {
					problem("team %q: attribute %q (team.ancestors[%d].key_attr) is empty", name, a.KeyAttr, i)
					return nil
				}
				if ancestorKeys == nil {
					ancestorKeys = map[int]string{}
				}
				ancestorKeys[i] = k
			}
		}
		names = append(names, name)
		levels = append(levels, r.teamLevel)
	case teamFromOU:
		for _, v := range rec.Values(OUAttr) {
			if v = strings.TrimSpace(v); v != "" {
				names = append(names, v)
			}
		}
		if len(names) == 0 {
			return nil
		}
		if len(names)-1 != len(r.ouLevels) {
			problem("OU path %q has %d %s above the team, but team.ou_levels names %d",
				strings.Join(names, " / "), len(names)-1, plural(len(names)-1, "level", "levels"), len(r.ouLevels))
			return nil
		}
		levels = append(slices.Clone(r.ouLevels), r.teamLevel)
	}
	teams := slices.Grow(sc.teams[:0], len(names))[:len(names)]
	sc.teams = teams
	parent := ""
	for i := range names {
		key := names[i]
		if parent != "" {
			key = parent + " / " + names[i]
		}
		if k, ok := ancestorKeys[i]; ok {
			key = k
		}
		if i == len(names)-1 && teamKey != "" {
			key = teamKey
		}
		teams[i] = reconcile.Team{Key: key, Name: names[i], Parent: parent, Level: levels[i], Active: true, Origin: rec.Origin}
		parent = key
	}
	return teams
}

// holds reports whether the condition holds for rec (and, for role
// conditions, the mapped roles), and if not, why.
func (c condition) holds(rec *sources.Record, roles []string) (bool, string) {
	switch {
	case c.attr != "":
		var vals []string
		for _, v := range rec.Values(c.attr) {
			if v = strings.TrimSpace(v); v != "" {
				vals = append(vals, v)
			}
		}
		shown := strings.Join(vals, ", ")
		if c.in == nil && c.notIn == nil && len(vals) == 0 {
			return false, fmt.Sprintf("%s: %s is empty", c.path, c.attr)
		}
		if c.in != nil && !slices.ContainsFunc(vals, func(v string) bool { return c.in[strings.ToLower(v)] }) {
			return false, fmt.Sprintf("%s: %s %q is not in %s", c.path, c.attr, shown, setList(c.in))
		}
		if c.notIn != nil && slices.ContainsFunc(vals, func(v string) bool { return c.notIn[strings.ToLower(v)] }) {
			return false, fmt.Sprintf("%s: %s %q is in not_in %s", c.path, c.attr, shown, setList(c.notIn))
		}
		return true, ""
	case c.group != "":
		for _, g := range rec.Groups {
			if strings.EqualFold(g.Name, c.group) || strings.EqualFold(g.Key, c.group) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s: not a member of group %q", c.path, c.group)
	case c.e != nil:
		val, ok, err := c.e.eval(bind(c.e.vars, rec))
		switch {
		case err != nil:
			return false, err.Error()
		case !ok:
			return false, fmt.Sprintf("%s: %q reads an attribute the record does not have", c.path, c.e.src)
		case val != true:
			return false, fmt.Sprintf("%s: %q is false", c.path, c.e.src)
		}
		return true, ""
	case c.role != "":
		if slices.Contains(roles, c.role) {
			return true, ""
		}
		return false, fmt.Sprintf("%s: does not have role %q", c.path, c.role)
	}
	return false, c.path + ": empty condition"
}

func setList(m map[string]bool) string {
	return "[" + strings.Join(sortedKeys(m), ", ") + "]"
}
