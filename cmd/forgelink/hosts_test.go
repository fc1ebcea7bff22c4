package main

import "testing"

func TestHosts(t *testing.T) {
	const (
		host2ARN = "arn:aws:codeconnections:us-east-1:123456789012:host/h2"
		host1    = `{"HostArn":"` + hostARN + `","Name":"ghes","ProviderEndpoint":"https://ghes.example","ProviderType":"GitHubEnterpriseServer","Status":"AVAILABLE"}`
		host2    = `{"HostArn":"` + host2ARN + `","Name":"gitlab","ProviderEndpoint":"https://gitlab.example","ProviderType":"GitLabSelfManaged","Status":"PENDING"}`
	)
	runCases(t, []cliCase{{
		name: "create",
		args: []string{"hosts", "create", "--name", "ghes", "--provider-type", "GitHubEnterpriseServer",
			"--provider-endpoint", "https://ghes.example", "--tag", "team=core"},
		replies:  []string{`{"HostArn":"` + hostARN + `"}`},
		wantReqs: []string{`CreateHost {"Name":"ghes","ProviderEndpoint":"https://ghes.example","ProviderType":"GitHubEnterpriseServer","Tags":[{"Key":"team","Value":"core"}]}`},
		wantOut:  hostARN + "\n",
	}, {
		name:     "create without endpoint",
		args:     []string{"hosts", "create", "--name", "ghes", "--provider-type", "GitHubEnterpriseServer"},
		wantCode: 2,
		wantErr:  "forgelink hosts create: --provider-endpoint is required\n",
	}, {
		name:     "create with bad endpoint",
		args:     []string{"hosts", "create", "--name", "ghes", "--provider-type", "GitHubEnterpriseServer", "--provider-endpoint", "http://ghes.example"},
		replies:  []string{`{"__type":"InvalidInputException","message":"ProviderEndpoint must use https"}`},
		wantReqs: []string{`CreateHost {"Name":"ghes","ProviderEndpoint":"http://ghes.example","ProviderType":"GitHubEnterpriseServer"}`},
		wantCode: 1,
		wantErr:  "forgelink hosts create: InvalidInputException: ProviderEndpoint must use https\n",
	}, {
		name:     "get",
		args:     []string{"hosts", "get", hostARN},
		replies:  []string{`{"Name":"ghes","ProviderEndpoint":"https://ghes.example","ProviderType":"GitHubEnterpriseServer","Status":"AVAILABLE"}`},
		wantReqs: []string{`GetHost {"HostArn":"` + hostARN + `"}`},
		wantOut: "NAME  STATUS     PROVIDER                ENDPOINT              ARN\n" +
			"ghes  AVAILABLE  GitHubEnterpriseServer  https://ghes.example  " + hostARN + "\n",
	}, {
		name:     "get as json",
		args:     []string{"hosts", "get", "--output", "json", hostARN},
		replies:  []string{`{"Name":"ghes","ProviderEndpoint":"https://ghes.example","ProviderType":"GitHubEnterpriseServer","Status":"AVAILABLE"}`},
		wantReqs: []string{`GetHost {"HostArn":"` + hostARN + `"}`},
		wantOut: `{
  "Name": "ghes",
  "ProviderEndpoint": "https://ghes.example",
  "ProviderType": "GitHubEnterpriseServer",
  "Status": "AVAILABLE"
}
`,
	}, {
		name:     "list every page as json",
		args:     []string{"hosts", "list", "--output", "json"},
		replies:  []string{`{"Hosts":[` + host1 + `],"NextToken":"t1"}`, `{"Hosts":[` + host2 + `],"NextToken":""}`},
		wantReqs: []string{`ListHosts {}`, `ListHosts {"NextToken":"t1"}`},
		wantOut: `{
  "Hosts": [
    {
      "HostArn": "` + hostARN + `",
      "Name": "ghes",
      "ProviderEndpoint": "https://ghes.example",
      "ProviderType": "GitHubEnterpriseServer",
      "Status": "AVAILABLE"
    },
    {
      "HostArn": "` + host2ARN + `",
      "Name": "gitlab",
      "ProviderEndpoint": "https://gitlab.example",
      "ProviderType": "GitLabSelfManaged",
      "Status": "PENDING"
    }
  ],
  "NextToken": ""
}
`,
	}, {
		name:     "list one page",
		args:     []string{"hosts", "list", "--max-results", "1"},
		replies:  []string{`{"Hosts":[` + host2 + `],"NextToken":"t3"}`},
		wantReqs: []string{`ListHosts {"MaxResults":1}`},
		wantOut: "NAME    STATUS   PROVIDER           ENDPOINT                ARN\n" +
			"gitlab  PENDING  GitLabSelfManaged  https://gitlab.example  " + host2ARN + "\n",
		wantErr: "more results: --next-token t3 (or --limit N, --all)\n",
	}, {
		name:     "update",
		args:     []string{"hosts", "update", hostARN, "--provider-endpoint", "https://ghes2.example"},
		replies:  []string{`{}`},
		wantReqs: []string{`UpdateHost {"HostArn":"` + hostARN + `","ProviderEndpoint":"https://ghes2.example"}`},
		wantOut:  "Updated host " + hostARN + ".\n",
	}, {
		name:     "delete",
		args:     []string{"hosts", "delete", hostARN},
		replies:  []string{`{}`},
		wantReqs: []string{`DeleteHost {"HostArn":"` + hostARN + `"}`},
		wantOut:  "Deleted host " + hostARN + ".\n",
	}, {
		name:     "delete as YAML",
		args:     []string{"hosts", "delete", hostARN, "-o", "yaml"},
		replies:  []string{`{}`},
		wantReqs: []string{`DeleteHost {"HostArn":"` + hostARN + `"}`},
		wantOut:  "{}\n",
	}})
}
