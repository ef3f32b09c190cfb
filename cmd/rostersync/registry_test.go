package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/config"
)

// Every kind the configuration file accepts has its registry entry, and
// every entry a block in the file: a kind added on one side only fails
// here, not at a user's first run.
func TestRegistryMatchesTheConfigurationBlocks(t *testing.T) {
	if got, want := strings.Split(kindNames(sourceKinds), ", "), config.SourceTypes(); !slices.Equal(got, want) {
		t.Errorf("source kinds in the registry %q, blocks in config.SourceConfig %q", got, want)
	}
	if got, want := strings.Split(kindNames(targetKinds), ", "), config.TargetTypes(); !slices.Equal(got, want) {
		t.Errorf("target kinds in the registry %q, blocks in config.TargetConfig %q", got, want)
	}
	for name, k := range targetKinds {
		if k.open == nil || k.sim.serve == nil || k.sim.listen == "" {
			t.Errorf("target kind %s: open, simulator and its default address are all required", name)
		}
	}
	for name, k := range sourceKinds {
		if k.open == nil {
			t.Errorf("source kind %s has no open", name)
		}
	}
}
