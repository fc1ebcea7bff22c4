package main

import (
	"strings"
	"testing"
)

const (
	deliveryID = "019a0000-0000-7000-8000-000000000001"
	eventID    = "019a0000-0000-7000-8000-0000000000e1"
	// deliveryJSON is a summary as the daemon sends it, created at
	// 2026-11-25T12:00:00Z.
	deliveryJSON = `{"DeliveryId":"` + deliveryID + `","EventId":"` + eventID + `","ConnectionArn":"` + connARN + `",` +
		`"Pipeline":"build","Target":"ci","Mode":"QUEUED","Branch":"main","State":"dead","Attempts":2,` +
		`"FilesIncomplete":false,"LastError":"HTTP 503","CreatedAt":1795608000,"UpdatedAt":1795608001.5}`
	pendingDeliveryJSON = `{"DeliveryId":"019a0000-0000-7000-8000-000000000002","EventId":"` + eventID + `","ConnectionArn":"` + connARN + `",` +
		`"Pipeline":"release","Target":"ci","Mode":"PARALLEL","Branch":"","State":"pending","Attempts":0,` +
		`"FilesIncomplete":false,"NextAttemptAt":1795608000,"LastError":"","CreatedAt":1795608000,"UpdatedAt":1795608000}`
)

// deliveriesJSON is ListDeliveries' JSON output of n copies of
// deliveryJSON and NextToken next.
func deliveriesJSON(n int, next string) string {
	one := `    {
      "Attempts": 2,
      "Branch": "main",
      "ConnectionArn": "` + connARN + `",
      "CreatedAt": 1795608000,
      "DeliveryId": "` + deliveryID + `",
      "EventId": "` + eventID + `",
      "FilesIncomplete": false,
      "LastError": "HTTP 503",
      "Mode": "QUEUED",
      "Pipeline": "build",
      "State": "dead",
      "Target": "ci",
      "UpdatedAt": 1795608001.5
    }`
	return "{\n  \"Deliveries\": [\n" + strings.Repeat(one+",\n", n-1) + one + "\n  ],\n  \"NextToken\": \"" + next + "\"\n}\n"
}

func TestDeliveriesCommands(t *testing.T) {
	getReply := `{"Delivery":` + deliveryJSON[:len(deliveryJSON)-1] + `,"Message":{"pipeline":"build"}},"Attempts":[` +
		`{"N":1,"StartedAt":1795608000.25,"DurationMs":1.5,"Outcome":"retry","StatusCode":503,"Error":"HTTP 503","Output":""},` +
		`{"N":2,"StartedAt":1795608001,"DurationMs":2000,"Outcome":"dead","ExitStatus":3,"Error":"","Output":"boom\n"}]}`
	runCases(t, []cliCase{{
		name: "list every page",
		args: []string{"deliveries", "list", "--state", "dead", "--pipeline", "build", "--event-id", eventID, "--all"},
		replies: []string{
			`{"Deliveries":[` + deliveryJSON + `],"NextToken":"t1"}`,
			`{"Deliveries":[` + pendingDeliveryJSON + `]}`,
		},
		wantReqs: []string{
			`ListDeliveries {"EventId":"` + eventID + `","MaxResults":100,"Pipeline":"build","SortOrder":"DESCENDING","State":"dead"}`,
			`ListDeliveries {"EventId":"` + eventID + `","MaxResults":100,"NextToken":"t1","Pipeline":"build","SortOrder":"DESCENDING","State":"dead"}`,
		},
		wantOut: "CREATED               PIPELINE  BRANCH  STATE    ATTEMPTS  DELIVERY                              EVENT\n" +
			"2026-11-25T12:00:00Z  build     main    dead     2         " + deliveryID + "  " + eventID + "\n" +
			"2026-11-25T12:00:00Z  release   -       pending  0         019a0000-0000-7000-8000-000000000002  " + eventID + "\n",
	}, {
		name:     "list one, oldest first",
		args:     []string{"deliveries", "list", "--limit", "1", "--oldest-first"},
		replies:  []string{`{"Deliveries":[` + deliveryJSON + `],"NextToken":"t1"}`},
		wantReqs: []string{`ListDeliveries {"MaxResults":1,"SortOrder":"ASCENDING"}`},
		wantOut: "CREATED               PIPELINE  BRANCH  STATE  ATTEMPTS  DELIVERY                              EVENT\n" +
			"2026-11-25T12:00:00Z  build     main    dead   2         " + deliveryID + "  " + eventID + "\n",
		wantErr: "more results: --next-token t1",
	}, {
		name:     "list empty as JSON",
		args:     []string{"deliveries", "list", "--output", "json"},
		replies:  []string{`{"Deliveries":[]}`},
		wantReqs: []string{`ListDeliveries {"MaxResults":20,"SortOrder":"DESCENDING"}`},
		wantOut:  "{\n  \"Deliveries\": []\n}\n",
	}, {
		name: "limit across pages, resumable",
		args: []string{"deliveries", "list", "--limit", "3", "-o", "json", "--next-token", "t0"},
		replies: []string{
			`{"Deliveries":[` + deliveryJSON + `],"NextToken":"t1"}`,
			`{"Deliveries":[` + deliveryJSON + `,` + deliveryJSON + `],"NextToken":"t2"}`,
		},
		wantReqs: []string{
			`ListDeliveries {"MaxResults":3,"NextToken":"t0","SortOrder":"DESCENDING"}`,
			`ListDeliveries {"MaxResults":2,"NextToken":"t1","SortOrder":"DESCENDING"}`,
		},
		wantOut: deliveriesJSON(3, "t2"),
	}, {
		name:     "limit and all",
		args:     []string{"deliveries", "list", "--limit", "3", "--all"},
		wantCode: 2,
		wantErr:  "--all and --limit exclude each other",
	}, {
		name:     "zero limit",
		args:     []string{"deliveries", "list", "--limit", "0"},
		wantCode: 2,
		wantErr:  "--limit 0: want a positive number",
	}, {
		name:     "get",
		args:     []string{"deliveries", "get", deliveryID},
		replies:  []string{getReply},
		wantReqs: []string{`GetDelivery {"DeliveryId":"` + deliveryID + `"}`},
		wantOut: "DELIVERY          " + deliveryID + "\n" +
			"EVENT             " + eventID + "\n" +
			"CONNECTION        " + connARN + "\n" +
			"PIPELINE          build\n" +
			"TARGET            ci\n" +
			"MODE              QUEUED\n" +
			"BRANCH            main\n" +
			"STATE             dead\n" +
			"ATTEMPTS          2\n" +
			"NEXT ATTEMPT      -\n" +
			"FILES INCOMPLETE  false\n" +
			"LAST ERROR        HTTP 503\n" +
			"CREATED           2026-11-25T12:00:00Z\n" +
			"UPDATED           2026-11-25T12:00:01.5Z\n" +
			"\n" +
			"ATTEMPT  STARTED                  DURATION  OUTCOME  STATUS    ERROR\n" +
			"1        2026-11-25T12:00:00.25Z  1.5ms     retry    HTTP 503  HTTP 503\n" +
			"2        2026-11-25T12:00:01Z     2s        dead     exit 3    -\n",
	}, {
		name:     "get as JSON",
		args:     []string{"deliveries", "get", deliveryID, "--output", "json"},
		replies:  []string{`{"Delivery":` + pendingDeliveryJSON[:len(pendingDeliveryJSON)-1] + `,"Message":{"pipeline":"release","n":1}},"Attempts":[]}`},
		wantReqs: []string{`GetDelivery {"DeliveryId":"` + deliveryID + `"}`},
		wantOut: `{
  "Attempts": [],
  "Delivery": {
    "Attempts": 0,
    "Branch": "",
    "ConnectionArn": "` + connARN + `",
    "CreatedAt": 1795608000,
    "DeliveryId": "019a0000-0000-7000-8000-000000000002",
    "EventId": "` + eventID + `",
    "FilesIncomplete": false,
    "LastError": "",
    "Message": {
      "n": 1,
      "pipeline": "release"
    },
    "Mode": "PARALLEL",
    "NextAttemptAt": 1795608000,
    "Pipeline": "release",
    "State": "pending",
    "Target": "ci",
    "UpdatedAt": 1795608000
  }
}
`,
	}, {
		name:     "get without id",
		args:     []string{"deliveries", "get"},
		wantCode: 2,
		wantErr:  "missing arguments; usage: forgelink deliveries get DELIVERY-ID [flags]",
	}, {
		name:     "redeliver",
		args:     []string{"deliveries", "redeliver", deliveryID},
		replies:  []string{`{}`},
		wantReqs: []string{`RedeliverDelivery {"DeliveryId":"` + deliveryID + `"}`},
		wantOut:  "Queued delivery " + deliveryID + " for redelivery.\n",
	}, {
		name:     "redeliver as JSON",
		args:     []string{"deliveries", "redeliver", deliveryID, "--output=json"},
		replies:  []string{`{}`},
		wantReqs: []string{`RedeliverDelivery {"DeliveryId":"` + deliveryID + `"}`},
		wantOut:  "{}\n",
	}, {
		name:     "redeliver refused",
		args:     []string{"deliveries", "redeliver", deliveryID},
		replies:  []string{`{"__type":"ConflictException","message":"delivery ` + deliveryID + ` is pending; only succeeded, dead, superseded, discarded or filtered deliveries can be redelivered"}`},
		wantReqs: []string{`RedeliverDelivery {"DeliveryId":"` + deliveryID + `"}`},
		wantCode: 1,
		wantErr:  "forgelink deliveries redeliver: ConflictException: delivery " + deliveryID + " is pending; only succeeded",
	}, {
		name:     "discard",
		args:     []string{"deliveries", "discard", deliveryID},
		replies:  []string{`{}`},
		wantReqs: []string{`DiscardDelivery {"DeliveryId":"` + deliveryID + `"}`},
		wantOut:  "Discarded delivery " + deliveryID + ".\n",
	}})
}

func TestPipelinesCommands(t *testing.T) {
	build := `{"Name":"build","ConnectionArn":"` + connARN + `","Repository":"acme/app","ExecutionMode":"QUEUED","Target":"ci",` +
		`"Triggers":{"push":[{"branches":{"includes":["main"]}}]}}`
	runCases(t, []cliCase{{
		name:     "list",
		args:     []string{"pipelines", "list"},
		replies:  []string{`{"Pipelines":[` + build + `]}`},
		wantReqs: []string{`ListPipelines {}`},
		wantOut: "NAME   REPOSITORY  MODE    TARGET  CONNECTION\n" +
			"build  acme/app    QUEUED  ci      " + connARN + "\n",
	}, {
		name:     "get",
		args:     []string{"pipelines", "get", "build"},
		replies:  []string{`{"Pipeline":` + build + `}`},
		wantReqs: []string{`GetPipeline {"Name":"build"}`},
		wantOut: "NAME        build\n" +
			"CONNECTION  " + connARN + "\n" +
			"REPOSITORY  acme/app\n" +
			"MODE        QUEUED\n" +
			"TARGET      ci\n" +
			`TRIGGERS    {"push":[{"branches":{"includes":["main"]}}]}` + "\n",
	}, {
		name:     "get as JSON",
		args:     []string{"pipelines", "get", "build", "--output", "json"},
		replies:  []string{`{"Pipeline":` + build + `}`},
		wantReqs: []string{`GetPipeline {"Name":"build"}`},
		wantOut: `{
  "Pipeline": {
    "ConnectionArn": "` + connARN + `",
    "ExecutionMode": "QUEUED",
    "Name": "build",
    "Repository": "acme/app",
    "Target": "ci",
    "Triggers": {
      "push": [
        {
          "branches": {
            "includes": [
              "main"
            ]
          }
        }
      ]
    }
  }
}
`,
	}, {
		name:     "get unknown",
		args:     []string{"pipelines", "get", "nope"},
		replies:  []string{`{"__type":"ResourceNotFoundException","message":"pipeline nope does not exist"}`},
		wantReqs: []string{`GetPipeline {"Name":"nope"}`},
		wantCode: 1,
		wantErr:  "forgelink pipelines get: ResourceNotFoundException: pipeline nope does not exist\n",
	}})
}

func TestEventsCommands(t *testing.T) {
	event := `{"EventId":"` + eventID + `","ConnectionArn":"` + connARN + `","Provider":"GitHub","DeliveryId":"gh-1",` +
		`"Kind":"push","RawKind":"push","Repository":"acme/app","Held":false,"ReceivedAt":1795608000}`
	explain := `{"EventId":"` + eventID + `","ConnectionArn":"` + connARN + `","Repository":"acme/app","Kind":"push","Verdicts":[` +
		`{"pipeline":"build","target":"ci","triggered":true,"subjects":[{"subject":"branch main","triggered":true,"filters":[` +
		`{"filter":"push[0]","matched":false,"criteria":[{"criterion":"branches","value":"main","matched":true,"decision":"include \"main\" matched"},` +
		`{"criterion":"filePaths","matched":false,"decision":"no changed file matched filePaths includes; list complete","files":{"listed":2,"complete":true}}]},` +
		`{"filter":"push[1]","matched":true,"criteria":[{"criterion":"branches","value":"main","matched":true,"decision":"no includes; no exclude matched"}]},` +
		`{"filter":"push[2]","matched":false,"reason":"a branch push; the filter has only tags"}]}]},` +
		`{"pipeline":"release","target":"ci","triggered":false,"subjects":[{"subject":"branch main","triggered":false,"reason":"no filter applies"}]},` +
		`{"pipeline":"ping","target":"ci","triggered":false,"reason":"push event without ref updates"}` +
		`],"Deliveries":[` + deliveryJSON + `]}`
	runCases(t, []cliCase{{
		name: "list every page",
		args: []string{"events", "list", "--kind", "push", "--all"},
		replies: []string{
			`{"Events":[` + event + `],"NextToken":"t1"}`,
			`{"Events":[]}`,
		},
		wantReqs: []string{
			`ListEvents {"Kind":"push","MaxResults":100,"SortOrder":"DESCENDING"}`,
			`ListEvents {"Kind":"push","MaxResults":100,"NextToken":"t1","SortOrder":"DESCENDING"}`,
		},
		wantOut: "RECEIVED              KIND  REPOSITORY  DELIVERY  HELD   EVENT\n" +
			"2026-11-25T12:00:00Z  push  acme/app    gh-1      false  " + eventID + "\n",
	}, {
		name:     "explain",
		args:     []string{"events", "explain", eventID},
		replies:  []string{explain},
		wantReqs: []string{`ExplainEvent {"EventId":"` + eventID + `"}`},
		wantOut: "EVENT       " + eventID + "\n" +
			"CONNECTION  " + connARN + "\n" +
			"REPOSITORY  acme/app\n" +
			"KIND        push\n" +
			"\n" +
			"PIPELINE   build (target ci)\n" +
			"TRIGGERED  yes\n" +
			"           branch main  push[0]  not matched  branches main: include \"main\" matched; filePaths: no changed file matched filePaths includes; list complete (2 changed files listed)\n" +
			"           branch main  push[1]  matched      branches main: no includes; no exclude matched\n" +
			"           branch main  push[2]  skipped      a branch push; the filter has only tags\n" +
			"\n" +
			"PIPELINE   release (target ci)\n" +
			"TRIGGERED  no\n" +
			"           branch main  -  not matched  no filter applies\n" +
			"\n" +
			"PIPELINE   ping (target ci)\n" +
			"TRIGGERED  no\n" +
			"REASON     push event without ref updates\n" +
			"\n" +
			"CREATED               PIPELINE  BRANCH  STATE  ATTEMPTS  DELIVERY                              EVENT\n" +
			"2026-11-25T12:00:00Z  build     main    dead   2         " + deliveryID + "  " + eventID + "\n",
	}, {
		name:     "explain without pipelines",
		args:     []string{"events", "explain", eventID},
		replies:  []string{`{"EventId":"` + eventID + `","ConnectionArn":"` + connARN + `","Repository":"acme/app","Kind":"ping","Verdicts":[],"Deliveries":[]}`},
		wantReqs: []string{`ExplainEvent {"EventId":"` + eventID + `"}`},
		wantOut: "EVENT       " + eventID + "\n" +
			"CONNECTION  " + connARN + "\n" +
			"REPOSITORY  acme/app\n" +
			"KIND        ping\n" +
			"\n" +
			"no pipeline is configured for this connection and repository\n" +
			"\n" +
			"CREATED  PIPELINE  BRANCH  STATE  ATTEMPTS  DELIVERY  EVENT\n",
	}, {
		name:     "explain as JSON",
		args:     []string{"events", "explain", eventID, "--output", "json"},
		replies:  []string{`{"EventId":"` + eventID + `","ConnectionArn":"` + connARN + `","Repository":"acme/app","Kind":"push","Verdicts":[{"pipeline":"ping","target":"ci","triggered":false,"reason":"push event without ref updates"}],"Deliveries":[]}`},
		wantReqs: []string{`ExplainEvent {"EventId":"` + eventID + `"}`},
		wantOut: `{
  "ConnectionArn": "` + connARN + `",
  "Deliveries": [],
  "EventId": "` + eventID + `",
  "Kind": "push",
  "Repository": "acme/app",
  "Verdicts": [
    {
      "pipeline": "ping",
      "reason": "push event without ref updates",
      "target": "ci",
      "triggered": false
    }
  ]
}
`,
	}})
}
