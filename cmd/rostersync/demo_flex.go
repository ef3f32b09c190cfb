package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/flex/flexsim"
)

// scenarioFlex syncs one CSV into Evaluagent and Twilio Flex.
const scenarioFlex = "flex"

// demoFlex syncs the demo HR export into a simulated Evaluagent and a
// simulated Flex whose users arrived through SSO: the first sync adopts
// them and writes their Insights attributes, a reorganisation moves two
// agents' team, department, location and manager, and a leaver is first
// reported on Flex, then deprovisioned once the setting says enforce. Every
// step ends with an empty plan.
func demoFlex(ctx context.Context, c *cli, dir string) error {
	tmp, err := os.MkdirTemp("", "rostersync-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := copyDemoFiles(dir, tmp, "flex.yaml", "people.csv", "flex-seed.json"); err != nil {
		return err
	}
	_, env, stopEA, err := demoEvaluagent(tmp, "flex.yaml")
	if err != nil {
		return err
	}
	defer stopEA()
	fcfg := flexsim.DefaultConfig()
	if err := loadJSONFile(filepath.Join(tmp, "flex-seed.json"), &fcfg.Seed); err != nil {
		return err
	}
	fx, err := flexsim.New(fcfg)
	if err != nil {
		return err
	}
	fxBase, fxSecret, stopFX, err := servePlatform(fx, tmp, "flex-secret", flexsim.DemoSecret)
	if err != nil {
		return err
	}
	defer stopFX()
	// Referenced as ${…} by the flex target in flex.yaml.
	env["FLEX_URL"] = fxBase
	env["FLEX_SECRET_FILE"] = fxSecret
	a, err := demoApp(ctx, c, env)
	if err != nil {
		return err
	}
	defer func() { a.Close() }()
	out := c.stdout
	step := func(title string, apply bool, check func() error) error {
		fmt.Fprintf(out, "\n== %s\n", title)
		plans, err := a.plans(ctx)
		if err != nil {
			return err
		}
		if err := reconcile.RenderPlans(out, plans.plans(), reconcile.FormatText); err != nil {
			return err
		}
		if apply {
			for _, plan := range plans {
				res, err := a.apply(ctx, plan)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "Apply complete for %s: %d applied, %d failed, %d skipped, %d not applicable.\n",
					plan.Target, res.Applied, len(res.Failed), res.Skipped, plan.Summary.Unsupported)
				if err := res.Err(); err != nil {
					return err
				}
			}
			fmt.Fprintln(out, "\n-- plan again:")
			again, err := a.plans(ctx)
			if err != nil {
				return err
			}
			if err := reconcile.RenderPlans(out, again.plans(), reconcile.FormatText); err != nil {
				return err
			}
			if !allEmpty(again) {
				return errors.New("demo: the plan after applying is not empty; the sync did not converge")
			}
		}
		if check != nil {
			return check()
		}
		return nil
	}
	attrs := func(user string, keys ...string) string {
		doc, _ := fx.Attributes(user)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%v", k, doc[k]))
		}
		return strings.Join(parts, ", ")
	}
	edit := func(name, old, new string) error {
		p := filepath.Join(tmp, name)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte(old)) {
			return fmt.Errorf("demo: %s has no %q", p, old)
		}
		return os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o600)
	}

	fmt.Fprintf(out, "rostersync demo (flex): %s\nsimulated Evaluagent at %s, simulated Twilio Flex at %s\n",
		demoScenarios[scenarioFlex].about, env["ROSTERSYNC_EVALUAGENT_BASE_URL"], fxBase)
	team := func(user string) string {
		member, owns := fx.Team(user)
		if len(owns) == 0 {
			return member
		}
		return member + " (owner of " + strings.Join(owns, ", ") + ")"
	}
	if err := step("1. first sync: Flex users (from SSO) are adopted and get their Insights attributes; the team tree is mirrored into Flex Teams (teams: mirror)", true, func() error {
		fmt.Fprintf(out, "Chloe's worker now: %s\n", attrs("chloe.davies@example.com", "team_name", "team_name_in_hierarchy", "manager", "channel.voice.capacity"))
		fmt.Fprintf(out, "Flex Teams: Chloe in %s; Amira, a team leader, in %s\n", team("chloe.davies@example.com"), team("amira.khan@example.com"))
		if m, owns := fx.Team("amira.khan@example.com"); m != "North" || !slices.Contains(owns, "North") {
			return errors.New("demo: the team leader is not a member and owner of her Flex team")
		}
		return nil
	}); err != nil {
		return err
	}
	// The reorganisation: Chloe to South, Harry from Sales in Leeds to Retentions in Glasgow.
	if err := edit("people.csv", "Chloe,Davies,chloe.davies@example.com,2022-01-10,active,Agent,Leeds,Support,North,D100,Amira Khan",
		"Chloe,Davies,chloe.davies@example.com,2022-01-10,active,Agent,Leeds,Support,South,D100,Daniel Evans"); err != nil {
		return err
	}
	if err := edit("people.csv", "Harry,Iqbal,harry.iqbal@example.com,2024-04-02,active,Agent,Leeds,Sales,Outbound,D200,Grace Hughes",
		"Harry,Iqbal,harry.iqbal@example.com,2024-04-02,active,Agent,Glasgow,Retentions,Saves,D300,Isla Johnston"); err != nil {
		return err
	}
	if err := step("2. reorganisation: Chloe moves to South, Harry to Retentions in Glasgow (team and manager in Insights attributes)", true, func() error {
		fmt.Fprintf(out, "Harry's worker now: %s\n", attrs("harry.iqbal@example.com", "team_name_in_hierarchy", "department_name", "location", "manager", "channel.voice.capacity"))
		fmt.Fprintf(out, "Flex Teams: Harry in %s, Chloe in %s\n", team("harry.iqbal@example.com"), team("chloe.davies@example.com"))
		if m, _ := fx.Team("harry.iqbal@example.com"); m != "Saves" {
			return errors.New("demo: Harry did not move to Saves in Flex Teams")
		}
		return nil
	}); err != nil {
		return err
	}
	const leaver = "ben.carter@example.com"
	if err := edit("people.csv", "E1002,Ben,Carter,ben.carter@example.com,2021-06-14,active,", "E1002,Ben,Carter,ben.carter@example.com,2021-06-14,leaver,"); err != nil {
		return err
	}
	if err := step("3. "+leaver+" leaves: Evaluagent deactivates; Flex reports the deprovisioning (deprovision: report)", true, func() error {
		if fx.Deactivated(leaver) || fx.Writes()["deprovision"] != 0 {
			return errors.New("demo: a deprovisioning was sent under deprovision: report")
		}
		fmt.Fprintf(out, "%s is still an active Flex user: nothing was sent.\n", leaver)
		return nil
	}); err != nil {
		return err
	}
	if err := edit("flex.yaml", "deprovision: report", "deprovision: enforce"); err != nil {
		return err
	}
	a.Close()
	if a, err = demoApp(ctx, c, env); err != nil {
		return err
	}
	if err := step("4. the operator sets deprovision: enforce: the leaver is deprovisioned through the Flex Users API", true, func() error {
		if !fx.Deactivated(leaver) {
			return errors.New("demo: the leaver was not deprovisioned")
		}
		fmt.Fprintf(out, "%s is deactivated in Flex; their worker is gone, their Insights history stays.\n", leaver)
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nFlex writes accepted, by route: %v; Insights QM calls: %d (rostersync never writes QA content).\n", fx.Writes(), fx.InsightsCalls())
	if fx.InsightsCalls() != 0 {
		return errors.New("demo: an Insights QM call was made")
	}
	return nil
}

// loadJSONFile decodes the JSON file at path into v; unknown fields are
// errors.
func loadJSONFile(path string, v any) error {
	b, err := readFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
