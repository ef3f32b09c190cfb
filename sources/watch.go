package sources

import "context"

// Watcher is implemented by sources that can hear of changes as they
// happen (LDAP content sync, AD change notification), so the daemon can
// start a pass at once instead of at the next scheduled one.
type Watcher interface {
	Source
	// Watch follows the source until ctx ends, calling changed after each
	// change. It never says what changed: the pass changed starts reads
	// the source as any pass does. It returns nil when ctx ends, or at once
	// when the source is configured not to watch.
	Watch(ctx context.Context, changed func()) error
}
