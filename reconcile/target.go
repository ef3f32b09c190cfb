package reconcile

import "context"

// Target is a QA platform. Its client implements it; Apply is the only caller
// of the write methods.
type Target interface {
	// Name identifies the target in plans and logs ("evaluagent").
	Name() string
	// Capabilities declare the platform's shape and limits: what it holds,
	// what its API can do, how long its names may be. Diff plans only what
	// they allow; there is no default platform.
	Capabilities() Capabilities
	// List reads the platform's users (with role machine names and team
	// group id), groups (inactive included) and work-queue templates.
	List(ctx context.Context) (*Snapshot, error)

	// CreateUser creates u; u.Team is a platform group id. It returns the new id.
	CreateUser(ctx context.Context, u User) (string, error)
	// UpdateUser changes only the named fields of user id to their values in
	// u, in one request. u.Team is a platform group id.
	UpdateUser(ctx context.Context, id string, u User, fields []Field) error
	// CreateTeam creates t; t.Parent is a platform group id. It returns the new id.
	CreateTeam(ctx context.Context, t Team) (string, error)
	// UpdateTeam changes only the named fields of group id (name, parent, active).
	UpdateTeam(ctx context.Context, id string, t Team, fields []Field) error
	// AddQueueAgents and RemoveQueueAgents change a work-queue template's
	// agents by platform user id, touching nobody else.
	AddQueueAgents(ctx context.Context, queueID string, userIDs []string) error
	RemoveQueueAgents(ctx context.Context, queueID string, userIDs []string) error
}

// Batcher is implemented by targets whose writes travel together in one
// request (Agent IQ's CSV import). When a target implements it, Apply hands
// it every ready operation at once instead of calling the per-object methods.
// It returns one result per operation, in order.
type Batcher interface {
	ApplyBatch(ctx context.Context, ops []Op) []BatchResult
}

// BatchResult is the outcome of one operation of a batch: Err is nil on
// success, and ID is the platform id of the user a successful create made
// (Apply records it in the ledger).
type BatchResult struct {
	ID  string
	Err error
}

// QueueReplacer is implemented by targets that can set a work-queue
// template's whole membership in one request. Diff plans a replace only
// when it saves requests and drops no one the rules did not mean to drop.
type QueueReplacer interface {
	ReplaceQueueAgents(ctx context.Context, queueID string, userIDs []string) error
}

// QueueCreator is implemented by targets that create the work queues the
// mapping's rules name and the platform lacks (Capabilities.CreateQueues).
// It returns the new queue's id.
type QueueCreator interface {
	CreateQueue(ctx context.Context, q Queue) (string, error)
}

// ListSizer is implemented by targets that can reserve room for a listing
// before reading it. users is about how many users the platform held at the
// last pass: a hint only, the listing holds what the platform returns.
type ListSizer interface {
	SizeHint(users int)
}
