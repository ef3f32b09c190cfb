package main

import (
	"maps"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/reconcile"
)

// What a recovery found joins the ownership a pass plans with, in the sorted form the ledger is
// read in: a user whose key is free and whose id nobody owns, kept in key order; never over a key
// already owned or onto an id another key owns; teams likewise; queues not at all.
func TestRecoveryOwnsWhatItFound(t *testing.T) {
	found := func(kind reconcile.Kind, key, id string) reconcile.Recovered {
		return reconcile.Recovered{Interrupted: reconcile.Interrupted{Op: reconcile.Op{Kind: kind, Key: key}}, ID: id}
	}
	own := reconcile.Ownership{UserKeys: []string{"E1", "E3"}, UserIDs: []string{"u1", "u3"}, Teams: map[string]string{"t1": "g1"}}
	rec := &recovery{found: []reconcile.Recovered{
		found(reconcile.KindUser, "E2", "u2"),   // free: owned
		found(reconcile.KindUser, "E0", "u0"),   // free, first in key order
		found(reconcile.KindUser, "E1", "u9"),   // key owned already: left
		found(reconcile.KindUser, "E4", "u3"),   // id owned by E3: left
		found(reconcile.KindTeam, "t2", "g2"),   // free team: owned
		found(reconcile.KindTeam, "t3", "g1"),   // group owned by t1: left
		found(reconcile.KindQueue, "q1", "wq1"), // queues go by name
	}}
	rec.own(&own)
	if diff := cmp.Diff([]string{"E0", "E1", "E2", "E3"}, own.UserKeys); diff != "" {
		t.Errorf("owned keys (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"E0": "u0", "E1": "u1", "E2": "u2", "E3": "u3"}, maps.Collect(own.AllUsers())); diff != "" {
		t.Errorf("owned users (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"t1": "g1", "t2": "g2"}, own.Teams); diff != "" {
		t.Errorf("owned teams (-want +got):\n%s", diff)
	}
}
