package dispatch

import (
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/relay/route"
	"github.com/forgelink/forgelink/store"
)

// Recorded is what planning needs to know about a recorded event.
type Recorded struct {
	EventID       string
	ConnectionID  string
	ConnectionARN string
	ReceivedAt    time.Time
	Event         *providers.Event
}

// Plan turns an event's matches into deliveries, each carrying the message
// its target will receive. It runs in the ingress (deliveries are written
// with the event) and for released held events.
func Plan(r Recorded, matches []route.Match) []store.Delivery {
	ds := make([]store.Delivery, 0, len(matches))
	for i, m := range matches {
		id := deliveryID(r.EventID, i)
		msg := message(r, m, id)
		ds = append(ds, store.Delivery{
			ID:              id,
			EventID:         r.EventID,
			ConnectionID:    r.ConnectionID,
			Pipeline:        m.Pipeline.Name,
			Target:          m.Pipeline.Target,
			Mode:            m.Pipeline.ExecutionMode,
			Branch:          m.Branch,
			FilesIncomplete: m.FilesIncomplete,
			Message:         msg.JSON(),
		})
	}
	return ds
}

func message(r Recorded, m route.Match, deliveryID string) *notify.Message {
	msg := &notify.Message{
		DeliveryID:         deliveryID,
		Pipeline:           m.Pipeline.Name,
		ConnectionARN:      r.ConnectionARN,
		EventID:            r.EventID,
		ProviderDeliveryID: r.Event.DeliveryID,
		Provider:           r.Event.Provider,
		Kind:               r.Event.Kind,
		Repository:         r.Event.Repository,
		Push:               m.Push,
		PullRequest:        m.PullRequest,
		FilesIncomplete:    m.FilesIncomplete,
		CreatedAt:          r.ReceivedAt,
	}
	msg.Variables = variables(msg)
	return msg
}

// variables are CodePipeline's source variables for the message, plus
// forgelink's own.
func variables(m *notify.Message) map[string]string {
	v := map[string]string{
		notify.VarFullRepositoryName: m.Repository.FullName,
		notify.VarConnectionArn:      m.ConnectionARN,
		notify.VarEventKind:          string(m.Kind),
		notify.VarDeliveryID:         m.DeliveryID,
		notify.VarPipeline:           m.Pipeline,
		notify.VarProviderType:       m.Provider,
		notify.VarCloneURL:           m.Repository.CloneURLHTTP,
	}
	switch {
	case m.Push != nil:
		p := m.Push
		v[notify.VarCommitID] = p.After
		if p.RefType == providers.RefTag {
			v[notify.VarTagName] = p.RefName
		} else {
			v[notify.VarBranchName] = p.RefName
		}
		if c := p.HeadCommit; c != nil {
			v[notify.VarCommitMessage] = c.Message
			if !c.Timestamp.IsZero() {
				v[notify.VarAuthorDate] = c.Timestamp.UTC().Format(time.RFC3339)
			}
		}
	case m.PullRequest != nil:
		pr := m.PullRequest
		v[notify.VarCommitID] = pr.HeadSHA
		v[notify.VarBranchName] = pr.SourceBranch
		v[notify.VarSourceBranch] = pr.SourceBranch
		v[notify.VarDestinationBranch] = pr.DestinationBranch
		v[notify.VarPullRequestNumber] = strconv.Itoa(pr.Number)
		v[notify.VarCommitMessage] = pr.Title
	}
	return v
}

// deliveryID makes the id of an event's n-th delivery so that it sorts with
// its event: the event's UUIDv7 time and sequence bits, then n, then fresh
// random bits. Execution modes order deliveries by id, so a held event
// released late still goes before the events recorded after it.
func deliveryID(eventID string, n int) string {
	id := uuid.Must(uuid.NewV7())
	ev, err := uuid.Parse(eventID)
	if err != nil || ev.Version() != 7 {
		return id.String()
	}
	copy(id[:8], ev[:8])           // 48-bit milliseconds, version, 12-bit sequence
	id[8] = 0x80 | byte(n>>8)&0x3f // the RFC 9562 variant, then n
	id[9] = byte(n)                // bytes 10-15 stay random
	return id.String()
}
