package controlplane

import "context"

// syncOperations are the CodeConnections Git sync operations (sync
// configurations, sync status, sync blockers). Git sync keeps CloudFormation
// stacks in step with a branch; forgelink has no CloudFormation to drive,
// so it answers them all with UnsupportedOperationException rather than
// UnknownOperationException: clients learn that the operation exists but
// this service does not offer it.
var syncOperations = []string{
	"CreateSyncConfiguration",
	"GetSyncConfiguration",
	"ListSyncConfigurations",
	"UpdateSyncConfiguration",
	"DeleteSyncConfiguration",
	"GetRepositorySyncStatus",
	"GetResourceSyncStatus",
	"ListRepositorySyncDefinitions",
	"GetSyncBlockerSummary",
	"UpdateSyncBlocker",
}

// addSyncOperations registers the refusals in ops.
func addSyncOperations(ops map[string]operation) {
	for _, name := range syncOperations {
		ops[name] = func(context.Context, call) (any, error) {
			return nil, newError(codeUnsupportedOp, "forgelink does not implement Git sync (CloudFormation stack sync): "+
				"%s is not supported. Repository links are; to act on repository events, configure forgelink pipelines", name)
		}
	}
}
