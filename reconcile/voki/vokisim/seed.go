package vokisim

import (
	"fmt"
	"time"
)

// SeedEpoch is when the default seed's objects were made.
var SeedEpoch = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// DefaultTenant returns the demo tenant as of now: an owner, the rostersync
// service user (a manager), a manager with two-factor login, attendants of
// whom one is inactive, two departments (Support has recordings) in one
// sector, and customer ratings over the 30 days before now, among them
// ratings of an attendant the demo directory does not know
// (ghost@acme.example).
func DefaultTenant(now time.Time) *Tenant {
	at := func(i int) time.Time { return SeedEpoch.Add(time.Duration(i) * time.Minute) }
	id := func(prefix string, i int) string { return fmt.Sprintf("%s0000000-0000-4000-8000-%012d", prefix, i) }
	u := func(i int, name, email, role string, active bool) *User {
		return &User{ID: id("a", i), Name: name, Email: email, Role: role, Active: active, Inserted: at(i), Updated: at(i)}
	}
	owner := u(1, "Olga Owner", "owner@acme.example", "owner", true)
	owner.Password = "owner-password"
	svc := u(2, "Rostersync Service", DemoEmail, "manager", true)
	svc.Password = DemoPassword
	mfa := u(3, "Mia Manager", "mia.manager@acme.example", "manager", true)
	mfa.MFA, mfa.Password = true, "mia-password"
	ghost := u(6, "Gus Ghost", "ghost@acme.example", "attendant", true)
	t := &Tenant{
		Slug: DemoTenant,
		Users: []*User{owner, svc, mfa,
			u(4, "Sam Supervisor", "sam.supervisor@acme.example", "supervisor", true),
			u(5, "Ivy Inactive", "ivy.inactive@acme.example", "attendant", false),
			ghost,
		},
		Sectors: []*Sector{{ID: id("c", 1), Name: "Customer Care", Description: "Inbound video calls", Inserted: at(0)}},
	}
	t.Departments = []*Department{
		{ID: id("d", 1), Name: "Sales", Identifier: "sales", SectorID: id("c", 1), Active: true, Inserted: at(0), Members: []string{ghost.ID}},
		{ID: id("d", 2), Name: "Support", Identifier: "support", SectorID: id("c", 1), Active: true, Recordings: true, Inserted: at(0)},
	}
	day := now.UTC().Truncate(24 * time.Hour)
	for i, r := range []int{5, 4, 2} {
		t.Evaluations = append(t.Evaluations, &Evaluation{ID: id("e", i+1), CallID: id("f", i+1), Rating: r, Customer: "Customer " + fmt.Sprint(i+1),
			UserID: ghost.ID, DepartmentID: id("d", 1), At: day.AddDate(0, 0, -(i + 1)).Add(10 * time.Hour)})
	}
	t.Evaluations[0].Comment = "Very helpful"
	return t
}

// DefaultConfig is a simulator holding the demo tenant on the real clock.
func DefaultConfig() Config {
	return Config{Tenants: []*Tenant{DefaultTenant(time.Now())}}
}
