package agentiq

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"slices"
	"strconv"

	"github.com/rostersync/rostersync/reconcile"
)

// Columns are the import's header row, in the contract's order (§7.2). The
// synchronizer fills the five banker columns and leaves the rest empty.
var Columns = []string{
	"Banker First Name", "Banker Last Name", "Banker Email", "BankerMapID", "BankerTeam",
	"Customer First Name", "Customer Last Name", "CustomerMapID", "Customer Email", "Customer Group",
	"Date Added", "Customer Phone",
}

// Banker is one banker-only row of an upload.
type Banker struct {
	FirstName, LastName, Email, MapID, Team string
}

func (b Banker) cells() []string {
	row := make([]string, len(Columns))
	copy(row, []string{b.FirstName, b.LastName, b.Email, b.MapID, b.Team})
	return row
}

// EncodeCSV writes the header row and one banker-only row per banker, LF line
// endings, quoted per RFC 4180.
func EncodeCSV(bankers []Banker) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(Columns); err != nil {
		return nil, err
	}
	for _, b := range bankers {
		if err := w.Write(b.cells()); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// Import uploads one CSV of bankers (I1) and returns the import's per-row
// report. Rows are numbered from 1 in the order given. It refuses more than
// Config.MaxRows rows; ApplyBatch splits for it.
func (c *Client) Import(ctx context.Context, bankers []Banker) (*ImportReport, error) {
	if len(bankers) == 0 {
		return &ImportReport{Succeeded: map[int]RowSuccess{}, Failed: map[int]string{}}, nil
	}
	if len(bankers) > c.cfg.MaxRows {
		return nil, fmt.Errorf("agentiq: import users: %d rows is more than MaxRows (%d)", len(bankers), c.cfg.MaxRows)
	}
	data, err := EncodeCSV(bankers)
	if err != nil {
		return nil, fmt.Errorf("agentiq: import users: encode CSV: %w", err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="bankers.csv"`)
	h.Set("Content-Type", "text/csv")
	part, err := mw.CreatePart(h)
	if err == nil {
		_, err = part.Write(data)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("agentiq: import users: build the upload: %w", err)
	}
	resp, err := c.do(ctx, call{route: c.routes.ImportUsers, body: body.Bytes(), contentType: mw.FormDataContentType(), op: "import users"})
	if err != nil {
		return nil, err
	}
	rep, err := decodeImport(resp, len(bankers))
	if err != nil {
		// The upload was accepted but its answer cannot be read: whether
		// each row was applied is unknown.
		return nil, fmt.Errorf("agentiq: import users: %v: %w", err, ErrOutcomeUnknown)
	}
	if len(rep.Unparsed) > 0 {
		c.log.Warn("agentiq: import response elements not understood", "elements", len(rep.Unparsed), "raw", string(slices.Concat(rep.Unparsed...)))
	}
	c.log.Info("agentiq: upload processed", "rows", len(bankers), "succeeded", len(rep.Succeeded), "failed", len(rep.Failed))
	return rep, nil
}

// ApplyBatch implements reconcile.Batcher: it writes the ready user creates,
// updates and adoptions as banker rows of as few uploads as Config.MaxRows
// allows, and maps each row's outcome back to its operation. User.Team must be
// the team name (reconcile.Apply resolves it from the plan).
//
// Operations Agent IQ cannot carry out (deactivation, reactivation, teams,
// queues) fail with ErrUnsupported and nothing is sent for them. An adoption
// without changes needs no row. A failed upload fails all its rows; after a
// fatal error the remaining uploads are not sent.
func (c *Client) ApplyBatch(ctx context.Context, ops []reconcile.Op) []reconcile.BatchResult {
	res := make([]reconcile.BatchResult, len(ops))
	type pending struct {
		op  int
		row Banker
	}
	var rows []pending
	for i := range ops {
		op := &ops[i]
		row, needed, err := bankerRow(op)
		switch {
		case err != nil:
			res[i].Err = err
		case !needed:
			res[i].ID = op.ID
		default:
			rows = append(rows, pending{i, row})
		}
	}
	var stop error
	for chunk := range slices.Chunk(rows, c.cfg.MaxRows) {
		if stop == nil && ctx.Err() != nil {
			stop = ctx.Err()
		}
		if stop != nil {
			for _, p := range chunk {
				res[p.op].Err = fmt.Errorf("not sent: %w", stop)
			}
			continue
		}
		bankers := make([]Banker, len(chunk))
		for j, p := range chunk {
			bankers[j] = p.row
		}
		rep, err := c.Import(ctx, bankers)
		if err != nil {
			for _, p := range chunk {
				res[p.op].Err = err
			}
			var f reconcile.Fatal
			if errors.As(err, &f) && f.Fatal() {
				stop = err
			}
			continue
		}
		for j, p := range chunk {
			n := j + 1
			if msg, failed := rep.Failed[n]; failed {
				res[p.op].Err = &RowError{Row: n, Message: msg}
				continue
			}
			ok, succeeded := rep.Succeeded[n]
			switch {
			case !succeeded:
				res[p.op].Err = fmt.Errorf("agentiq: the import reported neither success nor failure for row %d: %w", n, ErrOutcomeUnknown)
			case ops[p.op].Action == reconcile.ActionCreate && ok.AgentID == 0:
				res[p.op].Err = fmt.Errorf("agentiq: the import created row %d but gave no agent_id: %w", n, ErrOutcomeUnknown)
			case ok.AgentID != 0:
				res[p.op].ID = strconv.Itoa(ok.AgentID)
			default:
				res[p.op].ID = ops[p.op].ID
			}
		}
	}
	return res
}

// bankerRow builds the row of a user operation, or says none is needed.
func bankerRow(op *reconcile.Op) (Banker, bool, error) {
	switch {
	case op.Kind != reconcile.KindUser:
		return Banker{}, false, fmt.Errorf("agentiq: %s %s %q: %w (Agent IQ has no %s objects)", op.Action, op.Kind, op.Name, ErrUnsupported, op.Kind)
	case op.Action == reconcile.ActionDeactivate:
		return Banker{}, false, fmt.Errorf("agentiq: deactivate %q: %w: Agent IQ API offers no deactivation", op.Name, ErrUnsupported)
	case slices.Contains(op.Fields, reconcile.FieldActive):
		return Banker{}, false, fmt.Errorf("agentiq: reactivate %q: %w: Agent IQ API offers no reactivation", op.Name, ErrUnsupported)
	case op.Action == reconcile.ActionAdopt && len(op.Fields) == 0:
		return Banker{}, false, nil
	case op.User == nil:
		return Banker{}, false, fmt.Errorf("agentiq: %s user %q: the operation carries no user", op.Action, op.Name)
	}
	for _, f := range op.Fields {
		if !slices.Contains(UserFields, f) {
			return Banker{}, false, fmt.Errorf("agentiq: %s user %q: %w: the import cannot write %s", op.Action, op.Name, ErrUnsupported, f)
		}
	}
	u := op.User
	if u.Email == "" {
		return Banker{}, false, fmt.Errorf("agentiq: %s user %q: the source gives no email, and the import needs Banker Email for every row", op.Action, op.Name)
	}
	if op.Action != reconcile.ActionCreate && slices.Contains(op.Fields, reconcile.FieldEmail) && slices.Contains(op.Fields, reconcile.FieldThirdPartyID) {
		// The import matches by BankerMapID, then email: with both new it
		// would create a second agent instead of updating this one.
		return Banker{}, false, fmt.Errorf("agentiq: update user %q: email and external id both change, so the import could not find the agent and would create another; change one in the source first", op.Name)
	}
	return Banker{FirstName: u.Forename, LastName: u.Surname, Email: u.Email, MapID: u.ThirdPartyID, Team: u.Team}, true, nil
}
