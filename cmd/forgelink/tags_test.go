package main

import "testing"

func TestTags(t *testing.T) {
	runCases(t, []cliCase{{
		name:     "add",
		args:     []string{"tags", "add", connARN, "team=core", "note=a=b"},
		replies:  []string{`{}`},
		wantReqs: []string{`TagResource {"ResourceArn":"` + connARN + `","Tags":[{"Key":"team","Value":"core"},{"Key":"note","Value":"a=b"}]}`},
		wantOut:  "Tagged " + connARN + ": 2 tags added.\n",
	}, {
		name:     "add bad tag",
		args:     []string{"tags", "add", connARN, "team"},
		wantCode: 2,
		wantErr:  `forgelink tags add: tag "team" is not KEY=VALUE` + "\n",
	}, {
		name:     "add nothing",
		args:     []string{"tags", "add", connARN},
		wantCode: 2,
		wantErr:  "missing arguments; usage: forgelink tags add ARN KEY=VALUE ... [flags]",
	}, {
		name:     "remove",
		args:     []string{"tags", "remove", hostARN, "team", "env"},
		replies:  []string{`{}`},
		wantReqs: []string{`UntagResource {"ResourceArn":"` + hostARN + `","TagKeys":["team","env"]}`},
		wantOut:  "Untagged " + hostARN + ": 2 tags removed.\n",
	}, {
		name:     "list",
		args:     []string{"tags", "list", connARN},
		replies:  []string{`{"Tags":[{"Key":"team","Value":"core"},{"Key":"environment","Value":"prod"}]}`},
		wantReqs: []string{`ListTagsForResource {"ResourceArn":"` + connARN + `"}`},
		wantOut:  "KEY          VALUE\nteam         core\nenvironment  prod\n",
	}, {
		name:     "list untagged as json",
		args:     []string{"tags", "list", "--output=json", connARN},
		replies:  []string{`{}`},
		wantReqs: []string{`ListTagsForResource {"ResourceArn":"` + connARN + `"}`},
		wantOut:  "{\n  \"Tags\": []\n}\n",
	}, {
		name:     "list missing resource",
		args:     []string{"tags", "list", connARN},
		replies:  []string{`{"__type":"ResourceNotFoundException","message":"resource ` + connARN + ` does not exist"}`},
		wantReqs: []string{`ListTagsForResource {"ResourceArn":"` + connARN + `"}`},
		wantCode: 1,
		wantErr:  "forgelink tags list: ResourceNotFoundException: resource " + connARN + " does not exist\n",
	}})
}
