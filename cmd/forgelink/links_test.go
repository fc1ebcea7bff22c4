package main

import "testing"

func TestRepositoryLinks(t *testing.T) {
	const (
		linkID = "0190a4c2-0000-7000-8000-000000000001"
		link   = `{"ConnectionArn":"` + connARN + `","OwnerId":"group/sub","ProviderType":"GitLab",` +
			`"RepositoryLinkArn":"arn:aws:codeconnections:us-east-1:123456789012:repository-link/` + linkID + `",` +
			`"RepositoryLinkId":"` + linkID + `","RepositoryName":"app"}`
		table = "ID                                    PROVIDER  REPOSITORY     CONNECTION\n" +
			linkID + "  GitLab    group/sub/app  " + connARN + "\n"
	)
	runCases(t, []cliCase{{
		name:     "create",
		args:     []string{"repository-links", "create", "--connection-arn", connARN, "--owner-id", "group/sub", "--repository-name", "app", "--tag", "team=ci"},
		replies:  []string{`{"RepositoryLinkInfo":` + link + `}`},
		wantReqs: []string{`CreateRepositoryLink {"ConnectionArn":"` + connARN + `","OwnerId":"group/sub","RepositoryName":"app","Tags":[{"Key":"team","Value":"ci"}]}`},
		wantOut:  "Linked group/sub/app to " + connARN + ".\n" + table,
	}, {
		name:     "create without owner",
		args:     []string{"repository-links", "create", "--connection-arn", connARN, "--repository-name", "app"},
		wantCode: 2,
		wantErr:  "--owner-id is required",
	}, {
		name:     "get",
		args:     []string{"repository-links", "get", linkID},
		replies:  []string{`{"RepositoryLinkInfo":` + link + `}`},
		wantReqs: []string{`GetRepositoryLink {"RepositoryLinkId":"` + linkID + `"}`},
		wantOut:  table,
	}, {
		name:     "list follows every page",
		args:     []string{"repository-links", "list"},
		replies:  []string{`{"RepositoryLinks":[` + link + `],"NextToken":"t1"}`, `{"RepositoryLinks":[]}`},
		wantReqs: []string{`ListRepositoryLinks {}`, `ListRepositoryLinks {"NextToken":"t1"}`},
		wantOut:  table,
	}, {
		name:     "update",
		args:     []string{"repository-links", "update", "--encryption-key-arn", "arn:aws:kms:us-east-1:123456789012:key/k", linkID},
		replies:  []string{`{"RepositoryLinkInfo":` + link + `}`},
		wantReqs: []string{`UpdateRepositoryLink {"EncryptionKeyArn":"arn:aws:kms:us-east-1:123456789012:key/k","RepositoryLinkId":"` + linkID + `"}`},
		wantOut:  "Updated repository link " + linkID + ".\n" + table,
	}, {
		name:     "update nothing",
		args:     []string{"repository-links", "update", linkID},
		wantCode: 2,
		wantErr:  "nothing to update",
	}, {
		name:     "delete refused",
		args:     []string{"repository-links", "delete", linkID},
		replies:  []string{`{"__type":"ResourceNotFoundException","message":"repository link ` + linkID + ` does not exist"}`},
		wantReqs: []string{`DeleteRepositoryLink {"RepositoryLinkId":"` + linkID + `"}`},
		wantCode: 1,
		wantErr:  "forgelink repository-links delete: ResourceNotFoundException: repository link " + linkID + " does not exist\n",
	}, {
		name:     "delete",
		args:     []string{"repository-links", "delete", linkID},
		replies:  []string{`{}`},
		wantReqs: []string{`DeleteRepositoryLink {"RepositoryLinkId":"` + linkID + `"}`},
		wantOut:  "Deleted repository link " + linkID + ".\n",
	}})
}
