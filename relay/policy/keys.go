package policy

import (
	"fmt"
	"slices"
	"strings"
)

// The condition keys forgelink knows, spelled as AWS documents them. The
// control plane puts a key in a Request's Context for the actions AWS
// gives it to; keys are case-insensitive, so any spelling works there and
// in policies, and codestar-connections: is an alias of codeconnections:.
const (
	KeyFullRepositoryID            = "codeconnections:FullRepositoryId"
	KeyOwnerID                     = "codeconnections:OwnerId"
	KeyRepositoryName              = "codeconnections:RepositoryName"
	KeyBranchName                  = "codeconnections:BranchName"
	KeyProviderType                = "codeconnections:ProviderType"
	KeyProviderTypeFilter          = "codeconnections:ProviderTypeFilter"
	KeyProviderPermissionsRequired = "codeconnections:ProviderPermissionsRequired"
	KeyProviderAction              = "codeconnections:ProviderAction"
	KeyHostArn                     = "codeconnections:HostArn"
	KeyInstallationID              = "codeconnections:InstallationId"
	KeyVpcID                       = "codeconnections:VpcId"
	KeyPassedToService             = "codeconnections:PassedToService"
	// KeyTagKeys is the only multi-valued key: the tag keys of a request.
	KeyTagKeys = "aws:TagKeys"
	// KeyResourceTagPrefix and KeyRequestTagPrefix are followed by a tag
	// key: "aws:ResourceTag/team".
	KeyResourceTagPrefix = "aws:ResourceTag/"
	KeyRequestTagPrefix  = "aws:RequestTag/"
)

// knownKeys are the fixed keys, for messages.
var knownKeys = [...]string{
	KeyFullRepositoryID, KeyOwnerID, KeyRepositoryName, KeyBranchName,
	KeyProviderType, KeyProviderTypeFilter, KeyProviderPermissionsRequired, KeyProviderAction,
	KeyHostArn, KeyInstallationID, KeyVpcID, KeyPassedToService, KeyTagKeys,
}

// maxTagKey is AWS's limit on a tag key.
const maxTagKey = 128

// providerTypes is CodeConnections' ProviderType enum.
var providerTypes = []string{"Bitbucket", "GitHub", "GitHubEnterpriseServer", "GitLab", "GitLabSelfManaged", "AzureDevOps"}

// enumValues lists, by normalised key, the only values a key can have:
// a condition that compares with anything else can never match, which in
// a Deny statement silently lets everything through.
var enumValues = map[string][]string{
	normalizeKey(KeyProviderPermissionsRequired): {"read_only", "read_write"},
	normalizeKey(KeyProviderType):                providerTypes,
	normalizeKey(KeyProviderTypeFilter):          providerTypes,
	normalizeKey(KeyProviderAction): {
		"CreateBranch", "CreateCommit", "CreateCommitStatus", "CreatePullRequest", "CreatePullRequestComment",
		"CreatePullRequestDiffComment", "CreateRepository", "DeleteRepository", "GenerateReferenceLink", "GetBranch",
		"GetCommit", "GetCommitDiffs", "GetFile", "GetFolder", "GetPullRequest", "GetRepository",
		"GetUploadArchiveToS3Status", "GitPull", "GitPush", "IsRepositoryEmpty", "ListBranchCommits", "ListBranches",
		"ListCommitFiles", "ListCommitStatuses", "ListCommitsDiffs", "ListIssues", "ListOwners",
		"ListPullRequestComments", "ListPullRequestCommits", "ListPullRequestDiffs", "ListPullRequests",
		"ListRepositories", "StartUploadArchiveToS3", "UpdatePullRequest",
	},
}

// normalizeKey is the one form of a condition key that evaluation
// compares: IAM treats key names, tag keys included, case-insensitively,
// and codestar-connections: names the same keys as codeconnections:.
func normalizeKey(k string) string {
	k = strings.ToLower(k)
	if rest, ok := strings.CutPrefix(k, LegacyService+":"); ok {
		return Service + ":" + rest
	}
	return k
}

// multiValued reports whether a normalised key may carry several values.
func multiValued(key string) bool { return key == strings.ToLower(KeyTagKeys) }

// checkKey validates a condition key name.
func checkKey(k string) error {
	n := normalizeKey(k)
	for _, prefix := range []string{KeyResourceTagPrefix, KeyRequestTagPrefix} {
		if tag, ok := strings.CutPrefix(n, strings.ToLower(prefix)); ok {
			if tag == "" || len(tag) > maxTagKey {
				return fmt.Errorf("want %s<tag key> with a tag key of 1-%d characters, got %q", prefix, maxTagKey, k)
			}
			return nil
		}
	}
	for _, known := range knownKeys {
		if n == normalizeKey(known) {
			return nil
		}
	}
	return fmt.Errorf("unknown condition key %q (a key forgelink never sets would be absent from every request); known keys: %s, %s<key>, %s<key>",
		k, strings.Join(knownKeys[:], ", "), KeyResourceTagPrefix, KeyRequestTagPrefix)
}

// checkEnumValue refuses a string operator's value that can match none
// of the values the key can have.
func checkEnumValue(key string, cmp comparison, value string) error {
	allowed, ok := enumValues[normalizeKey(key)]
	if !ok || slices.ContainsFunc(allowed, func(a string) bool { return cmp.match(value, a) }) {
		return nil
	}
	return fmt.Errorf("value %q matches none of the values %s can have: %s", value, key, strings.Join(allowed, ", "))
}
