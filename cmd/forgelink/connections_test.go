package main

import "testing"

func TestConnections(t *testing.T) {
	const (
		conn2ARN    = "arn:aws:codeconnections:us-east-1:123456789012:connection/c2"
		conn1       = `{"ConnectionArn":"` + connARN + `","ConnectionName":"web","ConnectionStatus":"AVAILABLE","OwnerAccountId":"123456789012","ProviderType":"GitHub"}`
		connInError = `{"ConnectionArn":"` + connARN + `","ConnectionName":"web","ConnectionStatus":"ERROR","OwnerAccountId":"123456789012","ProviderType":"GitHub","StatusReason":"the provider refused the credential (401)"}`
		conn2       = `{"ConnectionArn":"` + conn2ARN + `","ConnectionName":"ghes","ConnectionStatus":"PENDING","HostArn":"` + hostARN + `","OwnerAccountId":"123456789012","ProviderType":"GitHubEnterpriseServer"}`
	)
	runCases(t, []cliCase{{
		name:     "create with tags",
		args:     []string{"connections", "create", "--name", "web", "--provider-type", "GitHub", "--tag", "team=core", "--tag", "env="},
		replies:  []string{`{"ConnectionArn":"` + connARN + `"}`},
		wantReqs: []string{`CreateConnection {"ConnectionName":"web","ProviderType":"GitHub","Tags":[{"Key":"team","Value":"core"},{"Key":"env","Value":""}]}`},
		wantOut:  connARN + "\n",
	}, {
		name:     "create on host as json",
		args:     []string{"connections", "create", "--output", "json", "--name", "ghes", "--host-arn", hostARN},
		replies:  []string{`{"ConnectionArn":"` + conn2ARN + `"}`},
		wantReqs: []string{`CreateConnection {"ConnectionName":"ghes","HostArn":"` + hostARN + `"}`},
		wantOut:  "{\n  \"ConnectionArn\": \"" + conn2ARN + "\"\n}\n",
	}, {
		name:     "create without name",
		args:     []string{"connections", "create", "--provider-type", "GitHub"},
		wantCode: 2,
		wantErr:  "forgelink connections create: --name is required\n",
	}, {
		name:     "create without provider",
		args:     []string{"connections", "create", "--name", "web"},
		wantCode: 2,
		wantErr:  "--provider-type or --host-arn is required",
	}, {
		name:     "create with bad tag",
		args:     []string{"connections", "create", "--name", "web", "--provider-type", "GitHub", "--tag", "team"},
		wantCode: 2,
		wantErr:  `invalid argument "team" for "--tag" flag: tag "team" is not KEY=VALUE`,
	}, {
		name:     "get",
		args:     []string{"connections", "get", connARN},
		replies:  []string{`{"Connection":` + conn1 + `}`},
		wantReqs: []string{`GetConnection {"ConnectionArn":"` + connARN + `"}`},
		wantOut: "Name:      web\n" +
			"ARN:       " + connARN + "\n" +
			"Provider:  GitHub\n" +
			"Status:    AVAILABLE\n" +
			"Owner:     123456789012\n",
	}, {
		name:     "get shows the status reason",
		args:     []string{"connections", "get", connARN},
		replies:  []string{`{"Connection":` + connInError + `}`},
		wantReqs: []string{`GetConnection {"ConnectionArn":"` + connARN + `"}`},
		wantOut: "Name:      web\n" +
			"ARN:       " + connARN + "\n" +
			"Provider:  GitHub\n" +
			"Status:    ERROR\n" +
			"Reason:    the provider refused the credential (401)\n" +
			"Owner:     123456789012\n",
	}, {
		name:     "get as json keeps the status reason",
		args:     []string{"connections", "get", connARN, "-o", "json"},
		replies:  []string{`{"Connection":` + connInError + `}`},
		wantReqs: []string{`GetConnection {"ConnectionArn":"` + connARN + `"}`},
		wantOut: `{
  "Connection": {
    "ConnectionArn": "` + connARN + `",
    "ConnectionName": "web",
    "ConnectionStatus": "ERROR",
    "OwnerAccountId": "123456789012",
    "ProviderType": "GitHub",
    "StatusReason": "the provider refused the credential (401)"
  }
}
`,
	}, {
		name:     "get as json, flag after ARN",
		args:     []string{"connections", "get", conn2ARN, "--output", "json"},
		replies:  []string{`{"Connection":` + conn2 + `}`},
		wantReqs: []string{`GetConnection {"ConnectionArn":"` + conn2ARN + `"}`},
		wantOut: `{
  "Connection": {
    "ConnectionArn": "` + conn2ARN + `",
    "ConnectionName": "ghes",
    "ConnectionStatus": "PENDING",
    "HostArn": "` + hostARN + `",
    "OwnerAccountId": "123456789012",
    "ProviderType": "GitHubEnterpriseServer"
  }
}
`,
	}, {
		name:     "get missing",
		args:     []string{"connections", "get", connARN},
		replies:  []string{`{"__type":"ResourceNotFoundException","message":"connection ` + connARN + ` does not exist"}`},
		wantReqs: []string{`GetConnection {"ConnectionArn":"` + connARN + `"}`},
		wantCode: 1,
		wantErr:  "forgelink connections get: ResourceNotFoundException: connection " + connARN + " does not exist\n",
	}, {
		name:    "list follows every page",
		args:    []string{"connections", "list"},
		replies: []string{`{"Connections":[` + conn1 + `],"NextToken":"t1"}`, `{"Connections":[` + conn2 + `]}`},
		wantReqs: []string{
			`ListConnections {}`,
			`ListConnections {"NextToken":"t1"}`,
		},
		wantOut: "NAME  STATUS     PROVIDER                ARN                                                           HOST\n" +
			"web   AVAILABLE  GitHub                  " + connARN + "  \n" +
			"ghes  PENDING    GitHubEnterpriseServer  " + conn2ARN + "  " + hostARN + "\n",
	}, {
		name:     "list one filtered page",
		args:     []string{"connections", "list", "--provider-type", "GitHub", "--host-arn", hostARN, "--max-results", "1"},
		replies:  []string{`{"Connections":[` + conn1 + `],"NextToken":"t2"}`},
		wantReqs: []string{`ListConnections {"HostArnFilter":"` + hostARN + `","MaxResults":1,"ProviderTypeFilter":"GitHub"}`},
		wantOut: "NAME  STATUS     PROVIDER  ARN\n" +
			"web   AVAILABLE  GitHub    " + connARN + "\n",
		wantErr: "more results: --next-token t2 (or --limit N, --all)\n",
	}, {
		name:     "list page from token as json",
		args:     []string{"connections", "list", "--next-token", "t2", "--output", "json"},
		replies:  []string{`{"Connections":[]}`},
		wantReqs: []string{`ListConnections {"NextToken":"t2"}`},
		wantOut:  "{\n  \"Connections\": []\n}\n",
	}, {
		name:     "list with bad max results",
		args:     []string{"connections", "list", "--max-results", "0"},
		wantCode: 2,
		wantErr:  `invalid argument "0" for "--max-results" flag: want a positive number`,
	}, {
		name:     "list error on second page",
		args:     []string{"connections", "list"},
		replies:  []string{`{"Connections":[` + conn1 + `],"NextToken":"t1"}`, `{"__type":"ValidationException","message":"bad token"}`},
		wantReqs: []string{`ListConnections {}`, `ListConnections {"NextToken":"t1"}`},
		wantCode: 1,
		wantErr:  "forgelink connections list: ValidationException: bad token\n",
	}, {
		name:     "delete",
		args:     []string{"connections", "delete", connARN},
		replies:  []string{`{}`},
		wantReqs: []string{`DeleteConnection {"ConnectionArn":"` + connARN + `"}`},
		wantOut:  "Deleted connection " + connARN + ".\n",
	}, {
		name:     "delete as json",
		args:     []string{"connections", "delete", connARN, "-o", "json"},
		replies:  []string{`{}`},
		wantReqs: []string{`DeleteConnection {"ConnectionArn":"` + connARN + `"}`},
		wantOut:  "{}\n",
	}})
}
