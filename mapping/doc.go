// Package mapping turns what the sources say about people into the desired
// state of the QA platform: users with their roles, team and work queues, and
// the team hierarchy above them.
//
// It is pure: no files, no network, no clock. A Spec (decoded from the
// mapping: section of the YAML file by package config) is checked once by
// Compile, which reports every problem with the key path it concerns
// (team.ancestors[1].level: required). The resulting Rules map source
// snapshots with Map, and explain a single record with Explain.
//
// Map never panics on bad data: a person who cannot be mapped (a missing
// username, forename or surname, an unknown role value, an unparseable start
// date, a duplicate key or username) becomes a Problem and is left out of the
// desired state. Because leaving a person out could otherwise read as a
// departure, any such person also marks the desired state incomplete, as does
// any source whose snapshot is incomplete; the reconciler infers no departure
// from an incomplete desired state.
//
// # Reference
//
// Attribute names are matched case-insensitively; values compared with in,
// not_in, roles.values, roles.groups, exclude.usernames and group conditions
// are compared case-insensitively too. Every key is optional unless marked
// required.
//
//	user:
//	  key: employee_id        # attribute holding the person's stable key;
//	                          # default: the record's own key (the CSV key
//	                          # column, entryUUID, the SCIM id)
//	  username: email         # required: attribute holding the platform username
//	  email: email
//	  forename: first_name    # required
//	  surname: last_name      # required
//	  third_party_id: employee_id  # default: the person's key
//	  start_date: start_date
//	  start_date_layouts: ["2006-01-02", "02/01/2006"]
//	                          # Go time layouts tried in order; default
//	                          # ["2006-01-02"]; the output is YYYY-MM-DD
//	  active: {attr: status, values: [active]}
//	                          # in-scope people are active when attr holds one
//	                          # of values; absent: every in-scope person is active
//
//	scope:                    # conditions that must all hold; absent: everyone
//	  - {attr: status, in: [active, suspended]}
//	  - {attr: employment_type, not_in: [contractor]}
//	  - {group: "QA Users"}   # member of a group, by name or key
//
//	exclude:                  # people never touched: break-glass, service accounts
//	  usernames: [admin@example.com]
//	  patterns: ["^svc-"]     # regular expressions (RE2) matched against usernames
//	  roles: [administrator]  # role machine names: whoever holds one, on the platform
//	                          # or as mapped, is never created, changed or deactivated
//	  groups: [Escalations]   # platform group names: never adopted, renamed, moved or
//	                          # deactivated, and no agent is placed in them
//
//	roles:                    # a person's roles: from attr, plus from groups;
//	                          # default when neither gives one
//	  attr: role
//	  separator: ";"          # split each value of attr on this; default: no split
//	  values: {"Agent": agent, "Team Leader": team_leader}
//	                          # source value → role machine name; a value not in
//	                          # the table is a problem ...
//	  passthrough: false      # ... unless true: then it is lower-cased, spaces → _
//	  groups: {"QA Agents": [agent], "QA Leads": [team_leader]}
//	                          # group name or key → roles
//	  default: [agent]
//
//	team:                     # at most one of attr, group_pattern, groups, ou
//	  attr: team              # the team's name comes from this attribute
//	  key_attr: team_id       # with attr: the team's stable key; default: the
//	                          # names from the outermost ancestor down to the
//	                          # team joined by " / " ("North / Support / Team A")
//	  group_pattern: "^Team (.+)$"
//	                          # or: the team is the one group whose name matches;
//	                          # the first capture (else the whole match) is the
//	                          # name and the group's key is the team key
//	  groups:                 # or: a group → team table; the person's one listed
//	    "CN=Support North,OU=Groups": North  # group (by name or key) names the
//	    south-agents: South   # team, and the group's key is the team key
//	  ou: false               # or: true takes the team from the attribute _ou
//	                          # that the LDAP source provides, the OU names
//	                          # outermost first; the last is the team, the
//	                          # others its ancestors
//	  ou_levels: [Site, Department]
//	                          # with ou: the level of each ancestor OU, outermost
//	                          # first; a person with a different number of
//	                          # ancestor OUs is a problem
//	  level: Team             # the level of the team itself; default "Team"
//	  ancestors:              # with attr, group_pattern or groups: parent
//	    - {attr: site, level: Site, key_attr: site_id}  # teams, outermost first
//	    - {attr: department, level: Department}
//	                          # each is keyed by key_attr's value when given,
//	                          # else by its parent's key and its name joined
//	                          # by " / ". A stable key is what lets a rename or
//	                          # a move to another parent be one update in place
//	                          # instead of a new group and a deactivated one.
//
//	queues:                   # work-queue template memberships
//	  - name: Inbound Calls
//	    when: {attr: team, in: [North, South]}
//	                          # one condition, shaped as in scope, or
//	                          # {role: agent}: the person has that role
//	    whole_membership: false
//	                          # true: rostersync owns the template's whole
//	                          # membership, and a change that adds and removes
//	                          # agents may be one replace of the list. Off, it
//	                          # only adds and removes the agents it owns.
//
// A person without a team (the team attribute empty, no matching group, no
// OU) is mapped without one. A team key seen with two different names,
// parents or levels is a problem; the first one seen is kept.
package mapping
