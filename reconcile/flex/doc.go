// Package flex is the Twilio Flex target: a client of the Flex Users and
// Teams APIs and of TaskRouter Workers implementing reconcile.Target, built to the
// contract in the project's Twilio Flex specification.
//
// Flex has no QA-side directory of its own: people arrive through SSO (or
// are provisioned), and Flex Insights reads an agent's team, department,
// location and manager from free-text worker attributes. So flex is a
// partial target. What it does:
//
//   - keeps the worker attribute keys rostersync owns in line, one
//     conditional write (If-Match) per changed worker that merges into the
//     worker's current attributes and never touches any other key; a
//     worker changed since it was read (412) is read again and merged
//     again, never overwritten;
//   - deprovisions leavers through the Flex Users API, only when
//     deprovision is enforce (report plans them and applies nothing);
//   - provisions joiners only when provision is on, for tenants without SSO;
//   - under teams: mirror, mirrors the mapped team tree into Flex Teams
//     (Flex levels 3 > 2 > 1 from team_levels, the default team as the
//     root, names from team_name_template and never a person's), moves
//     people into their level-1 team and makes team leaders its owners;
//     only teams rostersync created or adopted are renamed, moved or
//     deleted.
//
// It never writes roles, IdP-owned keys, routing keys or QA content
// (Insights questionnaires, assessments), never creates or deletes bare
// workers. Every path is in one route table (Routes), overridable from
// configuration. The simulator is in package flexsim.
package flex
