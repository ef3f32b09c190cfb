package state_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/rostersync/rostersync/state"
)

// The apply journal's protocol: begin before the write is sent, finish
// after. After a crash, pending entries are the writes whose effect must be
// checked on the platform before anything is retried.
func Example_journal() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "state-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := state.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	run, _ := db.RunStart(ctx, state.RunApply)
	id, err := db.JournalBegin(ctx, state.Entry{RunID: run, Target: "evaluagent", OpID: "create user E1001",
		Kind: "user", Key: "E1001", Action: "create", Payload: []byte(`{"username":"ann"}`)})
	if err != nil {
		log.Fatal(err)
	}
	// … the process dies before the platform answers …
	db.Close()

	db, err = state.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	pending, _ := db.JournalPending(ctx, "evaluagent")
	for _, e := range pending {
		fmt.Printf("check %s %s %s on the platform\n", e.Action, e.Kind, e.Key)
	}
	// Found it by third_party_id: record it as created and owned.
	_ = db.JournalFinish(ctx, id, state.OutcomeOK, "u-42", "")
	_ = db.Own(ctx, "evaluagent", "user", "E1001", "u-42", state.HowCreated)
	ledger, _ := db.Ledger(ctx, "evaluagent")
	fmt.Println(ledger)
	// Output:
	// check create user E1001 on the platform
	// map[user:map[E1001:u-42]]
}
