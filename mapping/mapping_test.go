package mapping

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/sources"
)

// base is the smallest spec that compiles.
func base() Spec {
	return Spec{
		User:  UserSpec{Username: "email", Forename: "first", Surname: "last"},
		Roles: RolesSpec{Default: []string{"agent"}},
	}
}

// rec builds a record keyed key from attribute pairs; origin is "p.csv:<key>".
func rec(key string, kv ...string) sources.Record {
	attrs := map[string][]string{}
	for i := 0; i < len(kv); i += 2 {
		attrs[kv[i]] = append(attrs[kv[i]], kv[i+1])
	}
	return sources.Record{Key: key, Attrs: attrs, Origin: "p.csv:" + key}
}

// person is a record with the base spec's required attributes.
func person(key string, kv ...string) sources.Record {
	return rec(key, append([]string{"email", key + "@x.com", "first", "F" + key, "last", "L" + key}, kv...)...)
}

func withGroups(r sources.Record, gs ...sources.Group) sources.Record {
	r.Groups = gs
	return r
}

// user is the user the base spec makes of person(key).
func user(key string, edit ...func(*reconcile.User)) reconcile.User {
	u := reconcile.User{
		Key: key, ThirdPartyID: key, Username: key + "@x.com", Forename: "F" + key, Surname: "L" + key,
		Active: true, Roles: reconcile.NamesOf("agent"), Origin: "p.csv:" + key,
	}
	for _, e := range edit {
		e(&u)
	}
	return u
}

func team(key, name, parent, level, origin string) reconcile.Team {
	return reconcile.Team{Key: key, Name: name, Parent: parent, Level: level, Active: true, Origin: origin}
}

func snap(recs ...sources.Record) *sources.Snapshot {
	return &sources.Snapshot{Source: "hr", Records: recs, Health: sources.Health{Complete: true, Count: len(recs)}}
}

func TestMap(t *testing.T) {
	tests := []struct {
		name  string
		spec  func(*Spec)
		snaps []*sources.Snapshot
		want  Result
	}{{
		name:  "defaults, sorted by key",
		snaps: []*sources.Snapshot{snap(person("2"), person("1"))},
		want:  Result{Desired: &reconcile.Snapshot{Users: []reconcile.User{user("1"), user("2")}}},
	}, {
		name: "every user field from attributes",
		spec: func(s *Spec) {
			s.User.Key = "emp"
			s.User.Email = "mail"
			s.User.ThirdPartyID = "hrid"
			s.User.StartDate = "start"
			s.User.StartDateLayouts = []string{"2006-01-02", "02/01/2006"}
		},
		snaps: []*sources.Snapshot{snap(
			person("r1", "emp", "E1", "mail", "a@y.com", "hrid", "H1", "start", "31/01/2024"),
			person("r2", "emp", "E2", "mail", "b@y.com", "hrid", "H2", "start", "2023-05-04"),
			person("r3", "EMP", "E3", "MAIL", "c@y.com", "HRID", "H3"),
		)},
		want: Result{Desired: &reconcile.Snapshot{Users: []reconcile.User{
			user("r1", func(u *reconcile.User) {
				u.Key, u.Email, u.ThirdPartyID, u.StartDate = "E1", "a@y.com", "H1", 20240131
			}),
			user("r2", func(u *reconcile.User) {
				u.Key, u.Email, u.ThirdPartyID, u.StartDate = "E2", "b@y.com", "H2", 20230504
			}),
			user("r3", func(u *reconcile.User) { u.Key, u.Email, u.ThirdPartyID = "E3", "c@y.com", "H3" }),
		}}},
	}, {
		name: "unparseable start date is a problem",
		spec: func(s *Spec) { s.User.StartDate = "start" },
		snaps: []*sources.Snapshot{snap(
			person("1", "start", "31/01/2024"),
			person("2"),
		)},
		want: Result{
			Desired: &reconcile.Snapshot{
				Users:      []reconcile.User{user("2")},
				Incomplete: []string{"mapping: 1 in-scope person not mapped (see the mapping problems)"},
			},
			Problems: []Problem{{Kind: reconcile.KindUser, Key: "1", Origin: "p.csv:1", Message: `start date "31/01/2024" in "start" matches none of the layouts ["2006-01-02"]`}},
		},
	}, {
		name: "active from an attribute",
		spec: func(s *Spec) { s.User.Active = &ActiveSpec{Attr: "status", Values: []string{"Active"}} },
		snaps: []*sources.Snapshot{snap(
			person("1", "status", "ACTIVE"),
			person("2", "status", "suspended"),
			person("3"),
		)},
		want: Result{Desired: &reconcile.Snapshot{Users: []reconcile.User{
			user("1"),
			user("2", func(u *reconcile.User) { u.Active = false }),
			user("3", func(u *reconcile.User) { u.Active = false }),
		}}},
	}, {
		name: "scope: in, not_in, group, presence",
		spec: func(s *Spec) {
			s.Scope = []Condition{
				{Attr: "status", In: []string{"active", "Suspended"}},
				{Attr: "type", NotIn: []string{"contractor"}},
				{Group: "QA Users"},
				{Attr: "site"},
			}
		},
		snaps: []*sources.Snapshot{snap(
			withGroups(person("1", "status", "Active", "site", "N"), sources.Group{Key: "g1", Name: "qa users"}),
			withGroups(person("2", "status", "SUSPENDED", "type", "employee", "site", "N"), sources.Group{Key: "QA Users", Name: "Quality"}),
			withGroups(person("3", "status", "leaver", "site", "N"), sources.Group{Name: "QA Users"}),
			withGroups(person("4", "status", "active", "type", "Contractor", "site", "N"), sources.Group{Name: "QA Users"}),
			person("5", "status", "active", "site", "N"),
			withGroups(person("6", "status", "active"), sources.Group{Name: "QA Users"}),
		)},
		want: Result{
			Desired:    &reconcile.Snapshot{Users: []reconcile.User{user("1"), user("2")}},
			OutOfScope: 4,
		},
	}, {
		name: "exclude by username and pattern, before scope",
		spec: func(s *Spec) {
			s.Exclude = ExcludeSpec{Usernames: []string{"ADMIN@x.com"}, Patterns: []string{"^svc-"}}
			s.Scope = []Condition{{Attr: "status", In: []string{"active"}}}
		},
		snaps: []*sources.Snapshot{snap(
			rec("admin", "email", "admin@x.com", "first", "A", "last", "B", "status", "active"),
			rec("svc", "email", "svc-bot@x.com", "status", "leaver"),
			person("1", "status", "active"),
		)},
		want: Result{
			Desired:  &reconcile.Snapshot{Users: []reconcile.User{user("1")}},
			Excluded: []string{"admin@x.com", "svc-bot@x.com"},
		},
	}, {
		name: "roles from values, separator, groups and default",
		spec: func(s *Spec) {
			s.Roles = RolesSpec{
				Attr:      "role",
				Separator: ";",
				Values:    map[string]string{"Agent": "agent", "Team Leader": "Team_Leader", "Quality Analyst": "quality_analyst"},
				Groups:    map[string][]string{"QA Leads": {"team_leader", "agent"}},
				Default:   []string{"agent"},
			}
		},
		snaps: []*sources.Snapshot{snap(
			person("1", "role", "team leader; Quality Analyst;"),
			person("2", "role", "Agent", "role", "Team Leader"),
			withGroups(person("3"), sources.Group{Key: "k", Name: "qa leads"}),
			person("4"),
			person("5", "role", "Janitor"),
		)},
		want: Result{
			Desired: &reconcile.Snapshot{
				Users: []reconcile.User{
					user("1", func(u *reconcile.User) { u.Roles = reconcile.NamesOf("quality_analyst", "team_leader") }),
					user("2", func(u *reconcile.User) { u.Roles = reconcile.NamesOf("agent", "team_leader") }),
					user("3", func(u *reconcile.User) { u.Roles = reconcile.NamesOf("agent", "team_leader") }),
					user("4"),
				},
				Incomplete: []string{"mapping: 1 in-scope person not mapped (see the mapping problems)"},
			},
			Problems: []Problem{{Kind: reconcile.KindUser, Key: "5", Origin: "p.csv:5", Message: `role value "Janitor" in "role" is not in roles.values (add it there, or set roles.passthrough)`}},
		},
	}, {
		name: "roles passthrough, no default",
		spec: func(s *Spec) { s.Roles = RolesSpec{Attr: "role", Passthrough: true} },
		snaps: []*sources.Snapshot{snap(
			person("1", "role", "Quality Analyst"),
			person("2"),
		)},
		want: Result{
			Desired: &reconcile.Snapshot{
				Users:      []reconcile.User{user("1", func(u *reconcile.User) { u.Roles = reconcile.NamesOf("quality_analyst") })},
				Incomplete: []string{"mapping: 1 in-scope person not mapped (see the mapping problems)"},
			},
			Problems: []Problem{{Kind: reconcile.KindUser, Key: "2", Origin: "p.csv:2", Message: "no role: nothing in roles.attr or roles.groups applies and roles.default is empty"}},
		},
	}, {
		name: "team from attribute with ancestors, shared parents deduplicated",
		spec: func(s *Spec) {
			s.Team = TeamSpec{Attr: "team", Ancestors: []AncestorSpec{{Attr: "site", Level: "Site"}, {Attr: "dept", Level: "Department"}}}
		},
		snaps: []*sources.Snapshot{snap(
			person("1", "site", "Leeds", "dept", "Support", "team", "North"),
			person("2", "site", "Leeds", "dept", "Support", "team", "South"),
			person("3"),
			person("4", "site", "Leeds", "team", "East"),
		)},
		want: Result{
			Desired: &reconcile.Snapshot{
				Users: []reconcile.User{
					user("1", func(u *reconcile.User) { u.Team = "Leeds / Support / North" }),
					user("2", func(u *reconcile.User) { u.Team = "Leeds / Support / South" }),
					user("3"),
				},
				Teams: []reconcile.Team{
					team("Leeds", "Leeds", "", "Site", "p.csv:1"),
					team("Leeds / Support", "Support", "Leeds", "Department", "p.csv:1"),
					team("Leeds / Support / North", "North", "Leeds / Support", "Team", "p.csv:1"),
					team("Leeds / Support / South", "South", "Leeds / Support", "Team", "p.csv:2"),
				},
				Incomplete: []string{"mapping: 1 in-scope person not mapped (see the mapping problems)"},
			},
			Problems: []Problem{{Kind: reconcile.KindUser, Key: "4", Origin: "p.csv:4", Message: `team "East": attribute "dept" (team.ancestors[1]) is empty`}},
		},
	}, {
		name: "team key attribute, conflicting definitions",
		spec: func(s *Spec) {
			s.Team = TeamSpec{Attr: "team", KeyAttr: "team_id", Level: "Squad", Ancestors: []AncestorSpec{{Attr: "site", Level: "Site"}}}
		},
		snaps: []*sources.Snapshot{snap(
			person("1", "site", "Leeds", "team", "North", "team_id", "T1"),
			person("2", "site", "York", "team", "North", "team_id", "T1"),
			person("3", "site", "Leeds", "team", "Nord", "team_id", "T1"),
		)},
		want: Result{
			Desired: &reconcile.Snapshot{
				Users: []reconcile.User{
					user("1", func(u *reconcile.User) { u.Team = "T1" }),
					user("2", func(u *reconcile.User) { u.Team = "T1" }),
					user("3", func(u *reconcile.User) { u.Team = "T1" }),
				},
				Teams: []reconcile.Team{
					team("Leeds", "Leeds", "", "Site", "p.csv:1"),
					team("T1", "North", "Leeds", "Squad", "p.csv:1"),
					team("York", "York", "", "Site", "p.csv:2"),
				},
			},
			Problems: []Problem{
				{Kind: reconcile.KindTeam, Key: "T1", Origin: "p.csv:2", Message: `team "T1" has parent "York" here, but name "North", parent "Leeds", level "Squad" at p.csv:1, which is kept`},
				{Kind: reconcile.KindTeam, Key: "T1", Origin: "p.csv:3", Message: `team "T1" has name "Nord" here, but name "North", parent "Leeds", level "Squad" at p.csv:1, which is kept`},
			},
		},
	}, {
		name: "team from group pattern",
		spec: func(s *Spec) {
			s.Team = TeamSpec{GroupPattern: "^Team (.+)$", Ancestors: []AncestorSpec{{Attr: "site", Level: "Site"}}}
		},
		snaps: []*sources.Snapshot{snap(
			withGroups(person("1", "site", "Leeds"), sources.Group{Key: "g-other", Name: "Everyone"}, sources.Group{Key: "g-n", Name: "Team North"}),
			withGroups(person("2", "site", "Leeds"), sources.Group{Key: "g-n", Name: "Team North"}, sources.Group{Key: "g-s", Name: "Team South"}),
			person("3"),
		)},
		want: Result{
			Desired: &reconcile.Snapshot{
				Users: []reconcile.User{
					user("1", func(u *reconcile.User) { u.Team = "g-n" }),
					user("3"),
				},
				Teams: []reconcile.Team{
					team("Leeds", "Leeds", "", "Site", "p.csv:1"),
					team("g-n", "North", "Leeds", "Team", "p.csv:1"),
				},
				Incomplete: []string{"mapping: 1 in-scope person not mapped (see the mapping problems)"},
			},
			Problems: []Problem{{Kind: reconcile.KindUser, Key: "2", Origin: "p.csv:2", Message: "member of 2 team groups (Team North, Team South): team.group_pattern must match one"}},
		},
	}, {
		name: "team from OUs",
		spec: func(s *Spec) { s.Team = TeamSpec{OU: true, OULevels: []string{"Site", "Department"}} },
		snaps: []*sources.Snapshot{snap(
			person("1", "_ou", "Europe", "_ou", "Support", "_ou", "North"),
			person("2", "_ou", "Support", "_ou", "North"),
		)},
		want: Result{
			Desired: &reconcile.Snapshot{
				Users: []reconcile.User{user("1", func(u *reconcile.User) { u.Team = "Europe / Support / North" })},
				Teams: []reconcile.Team{
					team("Europe", "Europe", "", "Site", "p.csv:1"),
					team("Europe / Support", "Support", "Europe", "Department", "p.csv:1"),
					team("Europe / Support / North", "North", "Europe / Support", "Team", "p.csv:1"),
				},
				Incomplete: []string{"mapping: 1 in-scope person not mapped (see the mapping problems)"},
			},
			Problems: []Problem{{Kind: reconcile.KindUser, Key: "2", Origin: "p.csv:2", Message: `OU path "Support / North" has 1 level above the team, but team.ou_levels names 2`}},
		},
	}, {
		name: "queues by attribute, group and role, sorted",
		spec: func(s *Spec) {
			s.Roles = RolesSpec{Attr: "role", Passthrough: true}
			s.Queues = []QueueSpec{
				{Name: "Inbound", When: Condition{Attr: "team", In: []string{"north", "south"}}},
				{Name: "Complaints", When: Condition{Role: "Team_Leader"}},
				{Name: "Chat", When: Condition{Group: "chat"}},
			}
		},
		snaps: []*sources.Snapshot{snap(
			withGroups(person("1", "team", "North", "role", "team leader"), sources.Group{Name: "Chat"}),
			person("2", "team", "East", "role", "agent"),
		)},
		want: Result{Desired: &reconcile.Snapshot{Users: []reconcile.User{
			user("1", func(u *reconcile.User) {
				u.Roles = reconcile.NamesOf("team_leader")
				u.Queues = reconcile.NamesOf("Chat", "Complaints", "Inbound")
			}),
			user("2"),
		}, Queues: []reconcile.Queue{{Name: "Inbound"}, {Name: "Complaints"}, {Name: "Chat"}}}},
	}, {
		name: "missing required fields are problems, never panics",
		snaps: []*sources.Snapshot{snap(
			rec("1", "email", "a@x.com"),
			rec("2", "first", " ", "last", "L"),
		)},
		want: Result{
			Desired: &reconcile.Snapshot{Incomplete: []string{"mapping: 2 in-scope people not mapped (see the mapping problems)"}},
			Problems: []Problem{
				{Kind: reconcile.KindUser, Key: "1", Origin: "p.csv:1", Message: `no forename: attribute "first" is empty`},
				{Kind: reconcile.KindUser, Key: "1", Origin: "p.csv:1", Message: `no surname: attribute "last" is empty`},
				{Kind: reconcile.KindUser, Key: "2", Origin: "p.csv:2", Message: `no username: attribute "email" is empty`},
				{Kind: reconcile.KindUser, Key: "2", Origin: "p.csv:2", Message: `no forename: attribute "first" is empty`},
			},
		},
	}, {
		name:  "empty key attribute",
		spec:  func(s *Spec) { s.User.Key = "emp" },
		snaps: []*sources.Snapshot{snap(person("1"))},
		want: Result{
			Desired:  &reconcile.Snapshot{Incomplete: []string{"mapping: 1 in-scope person not mapped (see the mapping problems)"}},
			Problems: []Problem{{Kind: reconcile.KindUser, Key: "1", Origin: "p.csv:1", Message: `no key: attribute "emp" (user.key) is empty`}},
		},
	}, {
		name: "duplicates across sources, incomplete health",
		snaps: []*sources.Snapshot{
			snap(person("1"), person("2")),
			nil,
			{Source: "ldap", Records: []sources.Record{
				person("1"),
				rec("3", "email", "2@X.com", "first", "F", "last", "L"),
			}, Health: sources.Health{Complete: false, Reason: "size limit exceeded", Count: 2}},
			{Source: "scim", Health: sources.Health{Complete: false}},
		},
		want: Result{
			Desired: &reconcile.Snapshot{
				Users: []reconcile.User{user("1"), user("2")},
				Incomplete: []string{
					"source ldap: size limit exceeded",
					"source scim: incomplete",
					"mapping: 1 in-scope person not mapped (see the mapping problems)",
				},
			},
			Problems: []Problem{
				{Kind: reconcile.KindUser, Key: "1", Origin: "p.csv:1", Message: `duplicate person key "1": also at p.csv:1, which is kept`},
				{Kind: reconcile.KindUser, Key: "3", Origin: "p.csv:3", Message: `username "2@X.com" is already used by 2 (p.csv:2)`},
			},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := base()
			if tt.spec != nil {
				tt.spec(&spec)
			}
			rules, err := Compile(spec)
			if err != nil {
				t.Fatal(err)
			}
			got := rules.Map(tt.snaps)
			want := tt.want
			if want.Desired.Users == nil {
				want.Desired.Users = []reconcile.User{}
			}
			if want.Desired.Teams == nil {
				want.Desired.Teams = []reconcile.Team{}
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("Map (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMapDoesNotReorderInput(t *testing.T) {
	rules, err := Compile(base())
	if err != nil {
		t.Fatal(err)
	}
	s := snap(person("2"), person("1"))
	rules.Map([]*sources.Snapshot{s})
	if s.Records[0].Key != "2" {
		t.Error("Map sorted the caller's records")
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want []string
	}{{
		name: "empty spec",
		spec: Spec{},
		want: []string{
			"user.username: required",
			"user.forename: required",
			"user.surname: required",
			"roles: give at least one of attr, groups or default: every user needs a role",
		},
	}, {
		name: "everything wrong",
		spec: Spec{
			User: UserSpec{
				Username: "u", Forename: "f", Surname: "s",
				StartDateLayouts: []string{"2006-01-02", "nonsense"},
				Active:           &ActiveSpec{},
			},
			Scope: []Condition{
				{},
				{Attr: "a", Group: "g"},
				{Role: "agent"},
				{Group: "g", In: []string{"x"}},
			},
			Exclude: ExcludeSpec{Patterns: []string{"(", "^ok$"}},
			Roles: RolesSpec{
				Attr:   "role",
				Values: map[string]string{"Agent": "agent", "TL": "Team Leader"},
				Groups: map[string][]string{"empty": nil},
			},
			Team: TeamSpec{
				Attr:         "team",
				GroupPattern: "[",
				OULevels:     []string{"Site"},
				Level:        " ",
				Ancestors:    []AncestorSpec{{Attr: "site", Level: "Site"}, {Attr: " "}},
			},
			Queues: []QueueSpec{
				{Name: "Q", When: Condition{Role: "agent"}},
				{Name: "q"},
			},
		},
		want: []string{
			`user.start_date_layouts[1]: "nonsense" is not a Go time layout with a year, month and day (write 2 January 2006 as in "2006-01-02")`,
			"user.active.attr: required",
			"user.active.values: required: the values that mean a person is active",
			"scope[0]: give one of attr, group, role or expr",
			"scope[1]: give only one of attr, group, role or expr",
			"scope[2].role: role conditions are only allowed in queues[].when (roles are mapped after scoping)",
			"scope[3]: in and not_in only apply to attr",
			"exclude.patterns[0]: error parsing regexp: missing closing ): `(`",
			`roles.values["TL"]: "Team Leader" is not a role machine name (lower case letters, digits and _, as team_leader)`,
			`roles.groups["empty"]: give at least one role`,
			"team.group_pattern: error parsing regexp: missing closing ]: `[`",
			"team: give only one of attr, group_pattern, groups or ou",
			"team.ou_levels: needs team.ou: true",
			"team.level: is blank",
			"team.ancestors[1].attr: required",
			"team.ancestors[1].level: required",
			`queues[1].name: "q" is already queues[0]`,
			"queues[1].when: give one of attr, group, role or expr",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compile(tt.spec)
			if r != nil {
				t.Error("Compile returned rules with an error")
			}
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileRoleValueCaseConflict(t *testing.T) {
	s := base()
	s.Roles = RolesSpec{Attr: "role", Values: map[string]string{"Agent": "agent", "AGENT": "team_leader"}}
	_, err := Compile(s)
	want := `roles.values["Agent"]: the same value, ignoring case, already maps to "team_leader"`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestCompileErrorsAreSpecErrors(t *testing.T) {
	_, err := Compile(Spec{})
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("%T is not a joined error", err)
	}
	for _, e := range joined.Unwrap() {
		if _, ok := e.(*SpecError); !ok {
			t.Errorf("%T (%v) is not a *SpecError", e, e)
		}
	}
}

func TestExplain(t *testing.T) {
	spec := base()
	spec.Exclude.Patterns = []string{"^svc-"}
	spec.Scope = []Condition{{Attr: "status", In: []string{"active"}}, {Attr: "type", NotIn: []string{"contractor"}}}
	spec.Team = TeamSpec{Attr: "team", Ancestors: []AncestorSpec{{Attr: "site", Level: "Site"}}}
	rules, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		rec  sources.Record
		want Explanation
	}{{
		name: "excluded",
		rec:  rec("s", "email", "svc-x"),
		want: Explanation{Key: "s", Origin: "p.csv:s", ExcludedBy: "exclude.patterns[0] (^svc-)"},
	}, {
		name: "out of scope",
		rec:  person("1", "status", "active", "type", "Contractor"),
		want: Explanation{Key: "1", Origin: "p.csv:1", OutOfScopeBy: `scope[1]: type "Contractor" is in not_in [contractor]`},
	}, {
		name: "not in",
		rec:  person("1", "status", "leaver"),
		want: Explanation{Key: "1", Origin: "p.csv:1", OutOfScopeBy: `scope[0]: status "leaver" is not in [active]`},
	}, {
		name: "mapped",
		rec:  person("1", "status", "active", "team", "North", "site", "Leeds"),
		want: Explanation{
			Key: "1", Origin: "p.csv:1", InScope: true,
			User: func() *reconcile.User {
				u := user("1", func(u *reconcile.User) { u.Team = "Leeds / North" })
				return &u
			}(),
			Teams: []reconcile.Team{
				team("Leeds", "Leeds", "", "Site", "p.csv:1"),
				team("Leeds / North", "North", "Leeds", "Team", "p.csv:1"),
			},
		},
	}, {
		name: "problem",
		rec:  rec("1", "status", "active", "email", "a", "first", "b"),
		want: Explanation{Key: "1", Origin: "p.csv:1", InScope: true, Problems: []string{`no surname: attribute "last" is empty`}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, rules.Explain(tt.rec)); diff != "" {
				t.Errorf("Explain (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExcludes(t *testing.T) {
	spec := base()
	spec.Exclude = ExcludeSpec{Usernames: []string{"Admin@x.com"}, Patterns: []string{"^svc-"}}
	rules, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	for u, want := range map[string]bool{"admin@X.com": true, "svc-a": true, "a-svc-": false, "": false} {
		if got := rules.Excludes(u); got != want {
			t.Errorf("Excludes(%q) = %v, want %v", u, got, want)
		}
	}
}

func TestExcludesRoles(t *testing.T) {
	spec := base()
	spec.Exclude = ExcludeSpec{Roles: []string{" Administrator "}}
	rules, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	if role, ok := rules.ExcludesRoles([]string{"agent", "administrator"}); !ok || role != "administrator" {
		t.Errorf("ExcludesRoles(agent, administrator) = %q, %v", role, ok)
	}
	if _, ok := rules.ExcludesRoles([]string{"agent"}); ok {
		t.Error("an agent is excluded")
	}
	spec.Exclude.Roles = []string{""}
	if _, err := Compile(spec); err == nil || !strings.Contains(err.Error(), "exclude.roles[0]") {
		t.Errorf("an empty role compiled: %v", err)
	}
}

func TestAttributes(t *testing.T) {
	spec := Spec{
		User: UserSpec{
			Key: "employee_id", Username: "email", Email: "Email", Forename: "first", Surname: "last",
			ThirdPartyID: "employee_id", StartDate: "start", Active: &ActiveSpec{Attr: "status"},
		},
		Scope:  []Condition{{Attr: "Status"}, {Group: "g"}, {Attr: "type"}},
		Roles:  RolesSpec{Attr: "role"},
		Team:   TeamSpec{Attr: "team", KeyAttr: "team_id", Ancestors: []AncestorSpec{{Attr: "site"}}},
		Queues: []QueueSpec{{When: Condition{Attr: "queue"}}, {When: Condition{Role: "agent"}}},
	}
	want := []string{"Email", "employee_id", "first", "last", "queue", "role", "site", "start", "Status", "team", "team_id", "type"}
	if diff := cmp.Diff(want, spec.Attributes()); diff != "" {
		t.Errorf("Attributes (-want +got):\n%s", diff)
	}
}

func TestTeamKeysSurviveRenameAndMove(t *testing.T) {
	spec := base()
	spec.Team = TeamSpec{Attr: "team", KeyAttr: "team_id", Ancestors: []AncestorSpec{
		{Attr: "site", Level: "Site", KeyAttr: "site_id"},
		{Attr: "dept", Level: "Department", KeyAttr: "dept_id"},
	}}
	r, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	before := r.Map([]*sources.Snapshot{snap(person("1", "site", "Leeds", "site_id", "S1", "dept", "Support", "dept_id", "D1", "team", "North", "team_id", "T1"))})
	// Support moves from Leeds to Glasgow and North is renamed Northern.
	after := r.Map([]*sources.Snapshot{snap(person("1", "site", "Glasgow", "site_id", "S2", "dept", "Support", "dept_id", "D1", "team", "Northern", "team_id", "T1"))})
	want := []reconcile.Team{
		team("D1", "Support", "S2", "Department", "p.csv:1"),
		team("S2", "Glasgow", "", "Site", "p.csv:1"),
		team("T1", "Northern", "D1", "Team", "p.csv:1"),
	}
	if d := cmp.Diff(want, after.Desired.Teams); d != "" {
		t.Errorf("teams after the reorganisation (-want +got):\n%s", d)
	}
	if before.Desired.Users[0].Team != "T1" || after.Desired.Users[0].Team != "T1" {
		t.Errorf("the person's team key changed: %q → %q", before.Desired.Users[0].Team, after.Desired.Users[0].Team)
	}
}

func TestTeamFromGroupTable(t *testing.T) {
	spec := base()
	spec.Team = TeamSpec{Groups: map[string]string{"CN=Support North,OU=Groups": "North", "south-agents": "South"}}
	r, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	res := r.Map([]*sources.Snapshot{snap(
		withGroups(person("1"), sources.Group{Key: "g-1", Name: "cn=support north,ou=groups"}),
		withGroups(person("2"), sources.Group{Key: "south-agents", Name: "South Agents"}, sources.Group{Key: "g-9", Name: "Other"}),
		withGroups(person("3"), sources.Group{Key: "g-1", Name: "CN=Support North,OU=Groups"}, sources.Group{Key: "south-agents", Name: "South Agents"}),
	)})
	if got := []string{res.Desired.Users[0].Team, res.Desired.Users[1].Team}; !slices.Equal(got, []string{"g-1", "south-agents"}) {
		t.Errorf("team keys = %q", got)
	}
	if len(res.Problems) != 1 || res.Problems[0].Key != "3" || !strings.Contains(res.Problems[0].Message, "one team") {
		t.Errorf("a person in two listed groups should be one problem, got %v", res.Problems)
	}
	if _, err := Compile(Spec{User: spec.User, Roles: spec.Roles, Team: TeamSpec{Attr: "team", Groups: map[string]string{"x": "X"}}}); err == nil {
		t.Error("team.attr together with team.groups compiled")
	}
}

func TestBuilderGivesMapsResultWhateverTheArrivalOrder(t *testing.T) {
	spec := base()
	spec.Team = TeamSpec{Attr: "dept"}
	rules, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	recs := []sources.Record{
		person("3", "dept", "Sales"),
		person("1", "dept", "Support"),
		rec("2", "email", "1@x.com", "first", "A", "last", "B"), // username of 1
		rec("4", "email", "4@x.com"),                            // no names
		person("5"),
	}
	// Records with one key keep their arrival order, in Map as in a Builder;
	// any other order is settled by key.
	want := rules.Map([]*sources.Snapshot{{Source: "a", Records: recs, Health: sources.Health{Count: len(recs)}}})
	for _, order := range [][]int{{4, 3, 2, 1, 0}, {2, 0, 4, 1, 3}} {
		b := rules.NewBuilder()
		for _, i := range order {
			r := recs[i]
			b.Add(&r)
		}
		b.EndSource("a", sources.Health{Count: len(recs)})
		if d := cmp.Diff(want, b.Result()); d != "" {
			t.Errorf("order %v (-Map +Builder):\n%s", order, d)
		}
	}
}

// Each source's people are settled in key order, whatever order they came in: every person
// keeps their own fields, the ones left out (a key taken by an earlier source, a record with
// problems) are dropped, and the result is sorted by key.
func TestSourcesSettleInKeyOrder(t *testing.T) {
	rules, err := Compile(base())
	if err != nil {
		t.Fatal(err)
	}
	a := []sources.Record{person("30"), person("10"), person("50")}
	b := []sources.Record{person("90"), person("10"), person("20"), rec("40", "email", "40@x.com"), person("05"), person("70")}
	res := rules.Map([]*sources.Snapshot{
		{Source: "a", Records: a, Health: sources.Health{Complete: true, Count: len(a)}},
		{Source: "b", Records: b, Health: sources.Health{Complete: true, Count: len(b)}},
	})
	var got []string
	for _, u := range res.Desired.Users {
		if u.Username != u.Key+"@x.com" || u.Forename != "F"+u.Key || u.Origin != "p.csv:"+u.Key {
			t.Errorf("user %s holds another person's fields: %+v", u.Key, u)
		}
		got = append(got, u.Key)
	}
	if want := "05 10 20 30 50 70 90"; strings.Join(got, " ") != want {
		t.Errorf("users %v, want %s", got, want)
	}
}

func TestExcludesGroup(t *testing.T) {
	spec := base()
	spec.Exclude.Groups = []string{"Escalations", " QA Admins "}
	r, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"escalations": true, "QA ADMINS": true, "Team A": false, "": false} {
		if got := r.ExcludesGroup(name); got != want {
			t.Errorf("ExcludesGroup(%q) = %v, want %v", name, got, want)
		}
	}
	spec.Exclude.Groups = []string{" "}
	if _, err := Compile(spec); err == nil || !strings.Contains(err.Error(), "exclude.groups[0]") {
		t.Errorf("a blank excluded group compiled: %v", err)
	}
}
