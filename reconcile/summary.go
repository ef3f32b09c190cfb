package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Summarize counts operations by action and status.
func Summarize(ops []Op, unchanged int) Summary {
	s := Summary{Unchanged: unchanged}
	for _, o := range ops {
		switch o.Status {
		case StatusHeld:
			s.Held++
			continue
		case StatusSuppressed:
			s.Suppressed++
			continue
		case StatusUnsupported:
			s.Unsupported++
			continue
		case StatusWaiting:
			s.Waiting++
			continue
		}
		switch o.Action {
		case ActionCreate:
			s.Create++
		case ActionUpdate:
			s.Update++
		case ActionAdopt:
			s.Adopt++
		case ActionDeactivate:
			s.Deactivate++
		}
	}
	return s
}

// RequestsFor counts the write calls the ready ops need, by endpoint name
// (Plan.Requests).
func RequestsFor(ops []Op) map[string]int { return requestsFor(ops) }

// requestsFor counts the write calls each ready op needs, by endpoint name.
func requestsFor(ops []Op) map[string]int {
	out := map[string]int{}
	for _, o := range ops {
		if !o.Ready() {
			continue
		}
		switch {
		case o.Kind == KindQueue && o.Action == ActionCreate:
			out["create queue"]++
		case o.Kind == KindQueue && o.Replace != nil:
			out["replace queue agents"]++
		case o.Kind == KindQueue:
			if len(o.Add) > 0 {
				out["add queue agents"]++
			}
			if len(o.Remove) > 0 {
				out["remove queue agents"]++
			}
		case o.Action == ActionCreate:
			out["create "+string(o.Kind)]++
		case len(o.Fields) > 0:
			out["update "+string(o.Kind)]++
		}
	}
	return out
}

// batchRequests counts the uploads a batching target needs: every ready user
// create, and every other ready user op that writes a field, is one row, and rows travel rowsPer to an upload.
func batchRequests(ops []Op, rowsPer int) map[string]int {
	rows := 0
	for _, o := range ops {
		if o.Ready() && o.Kind == KindUser && (o.Action == ActionCreate || len(o.Fields) > 0) {
			rows++
		}
	}
	out := map[string]int{}
	if rows > 0 {
		out["import users"] = (rows + rowsPer - 1) / rowsPer
	}
	return out
}

// Fingerprint is a short digest of a platform object's state, used to refuse
// a saved plan when the object changed after the plan was made.
func Fingerprint(v any) string {
	switch x := v.(type) {
	case *User:
		c := *x
		c.Roles = normRoles(c.Roles.List())
		c.Queues = Names{}
		v = c
	case *Team:
		v = *x
	}
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
