// Package reconcile computes and applies the difference between the desired
// state (what the sources say) and the current state (what the platform holds).
//
// Diff is pure and deterministic: it turns a desired Snapshot, a current
// Snapshot, the ownership ledger and a Policy into a Plan. Apply is the only
// code that calls a Target's write methods. A dry run is a Plan that is never
// applied.
//
// Each platform client implements Target, declares its shape with
// Capabilities (there is no default platform) and passes the contract suite
// in reconcile/targettest; cmd/rostersync/registry.go opens it by kind.
package reconcile

import (
	"iter"
	"maps"
	"slices"
	"strings"
)

// User is a person on the platform.
//
// In desired state Key is the source's stable key and Team is a team Key. In
// current state ID is the platform id and Team is the platform group id.
type User struct {
	ID           string `json:"id,omitempty"`
	Key          string `json:"key,omitempty"`
	ThirdPartyID string `json:"third_party_id,omitempty"`
	Username     string `json:"username"`
	Email        string `json:"email,omitempty"`
	Forename     string `json:"forename"`
	Surname      string `json:"surname"`
	StartDate    Date   `json:"start_date,omitempty"`
	Active       bool   `json:"active"`
	Roles        Names  `json:"roles"`           // role machine names
	Team         string `json:"team,omitempty"`  // team key (desired) or group id (current)
	Queues       Names  `json:"queues,omitzero"` // work-queue template names
	// Origin says where a desired user came from ("people.csv:12").
	Origin string `json:"origin,omitempty"`
	// Attributes are named values a platform keeps beside the person (Flex
	// worker attributes: team, department, location, manager). In desired
	// state the mapping's user.attributes fill them; in current state a
	// target that holds FieldAttributes lists the keys it may write. Only
	// keys the desired state names are compared; an empty desired value
	// leaves the platform's value alone.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Team is a group in the platform's hierarchy.
//
// In desired state Key is the stable key and Parent the parent's Key ("" for
// a child of the root). In current state ID is the platform id and Parent the
// parent's platform id ("" for the root itself).
type Team struct {
	ID     string `json:"id,omitempty"`
	Key    string `json:"key,omitempty"`
	Name   string `json:"name"`
	Parent string `json:"parent,omitempty"`
	Level  string `json:"level"`
	Active bool   `json:"active"`
	Origin string `json:"origin,omitempty"`
}

// Queue is a work-queue template and the platform ids of its agents.
type Queue struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Active bool     `json:"active"`
	Agents []string `json:"agents"`
	// WholeMembership, in desired state, says the mapping gives rostersync
	// the template's whole membership: a change that adds and removes may
	// be one replace of the list (see QueueReplacer).
	WholeMembership bool `json:"whole_membership,omitempty"`
}

// Snapshot is a whole state: desired (from sources) or current (from a target).
type Snapshot struct {
	Users []User `json:"users"`
	Teams []Team `json:"teams"`
	// Queues: in current state every template with its agents; in desired
	// state the templates the mapping manages (by Name), whose membership
	// rostersync keeps in line. Templates not listed are never touched.
	Queues []Queue `json:"queues,omitempty"`
	// RawAttributes are, in current state, the platform's whole attribute
	// documents as they were read (JSON objects) by user ID, for size checks
	// of the merged result: only for a target that holds FieldAttributes,
	// so that every other target's users are a field smaller. Never saved
	// with a plan.
	RawAttributes map[string]string `json:"-"`
	// Incomplete lists why the desired state cannot be trusted to be whole
	// (a source was partial). When non-empty no departure is inferred.
	Incomplete []string `json:"incomplete,omitempty"`
}

// Ownership is the ledger's view that Diff needs: which platform objects
// rostersync created or adopted, by stable key.
//
// Owned users are held either in Users or, when UserKeys is not nil, in
// UserKeys and UserIDs instead: the keys sorted bytewise, each once, and
// UserIDs[i] the platform id of UserKeys[i]. The second is the form the
// ledger is read in (state's LedgerSorted). Diff joins it to the desired
// users, which it takes in key order, in one merge: at a million people a
// lookup in a map of them is a cache miss a person, and Diff made two.
// Read owned users through UserID and AllUsers, which take either form.
type Ownership struct {
	Users    map[string]string `json:"users"` // user key → platform id
	Teams    map[string]string `json:"teams"` // team key → platform id
	UserKeys []string          `json:"-"`
	UserIDs  []string          `json:"-"`
}

// NewOwnership returns an empty Ownership.
func NewOwnership() Ownership {
	return Ownership{Users: map[string]string{}, Teams: map[string]string{}}
}

// UserID returns the platform id of the user owned by key.
func (o Ownership) UserID(key string) (string, bool) {
	if o.UserKeys == nil {
		id, ok := o.Users[key]
		return id, ok
	}
	if i, ok := slices.BinarySearch(o.UserKeys, key); ok {
		return o.UserIDs[i], true
	}
	return "", false
}

// AllUsers yields every owned user's key and platform id.
func (o Ownership) AllUsers() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		if o.UserKeys == nil {
			for k, id := range o.Users {
				if !yield(k, id) {
					return
				}
			}
			return
		}
		for i, k := range o.UserKeys {
			if !yield(k, o.UserIDs[i]) {
				return
			}
		}
	}
}

// SetUser records that key owns platform user id, in whichever form o
// holds its users. In the sorted form it moves the keys after key: it is
// for the few users a pass learns of, not for reading a ledger.
func (o *Ownership) SetUser(key, id string) {
	if o.UserKeys == nil {
		if o.Users == nil {
			o.Users = map[string]string{}
		}
		o.Users[key] = id
		return
	}
	i, found := slices.BinarySearch(o.UserKeys, key)
	if found {
		o.UserIDs[i] = id
		return
	}
	o.UserKeys = slices.Insert(o.UserKeys, i, key)
	o.UserIDs = slices.Insert(o.UserIDs, i, id)
}

// sortedUsers returns the owned users' keys, sorted, and their ids, making
// them from Users when o holds that form.
func (o Ownership) sortedUsers() (keys, ids []string) {
	if o.UserKeys != nil {
		return o.UserKeys, o.UserIDs
	}
	keys = slices.Sorted(maps.Keys(o.Users))
	ids = make([]string, len(keys))
	for i, k := range keys {
		ids[i] = o.Users[k]
	}
	return keys, ids
}

// UserOwner returns the key owning platform user id, if any.
func (o Ownership) UserOwner(id string) (string, bool) {
	for k, v := range o.AllUsers() {
		if v == id {
			return k, true
		}
	}
	return "", false
}

// TeamOwner returns the key owning platform group id, if any.
func (o Ownership) TeamOwner(id string) (string, bool) { return ownerOf(o.Teams, id) }

func ownerOf(m map[string]string, id string) (string, bool) {
	for k, v := range m {
		if v == id {
			return k, true
		}
	}
	return "", false
}

// Field names a user or team attribute that an update may change.
type Field string

// Fields of users and teams.
const (
	FieldForename     Field = "forename"
	FieldSurname      Field = "surname"
	FieldUsername     Field = "username"
	FieldEmail        Field = "email"
	FieldThirdPartyID Field = "third_party_id"
	FieldStartDate    Field = "start_date"
	FieldActive       Field = "active"
	FieldRoles        Field = "roles"
	FieldTeam         Field = "team"
	FieldName         Field = "name"
	FieldParent       Field = "parent"
	FieldLevel        Field = "level"
	// FieldAttributes, in Capabilities.UserFields, says the target holds
	// User.Attributes; a change of one attribute is the field
	// AttributeField(key).
	FieldAttributes Field = "attributes"
)

// normRoles returns roles lower-cased, de-duplicated and sorted.
// rolesNormal reports whether normRoles would return rs unchanged: every
// role trimmed, lower case and non-empty, in strictly ascending order.
func rolesNormal(rs []string) bool {
	for i, r := range rs {
		if r == "" || r != strings.TrimSpace(r) || r != strings.ToLower(r) || i > 0 && rs[i-1] >= r {
			return false
		}
	}
	return true
}

func normRoles(rs []string) Names {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		r = strings.ToLower(strings.TrimSpace(r))
		if r != "" {
			out = append(out, r)
		}
	}
	return NamesOf(out...)
}
