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

// addSyncOperations registers the refusals in ops; like any operation,
// each is authorised first (its action on "*").
func (a *API) addSyncOperations(ops map[string]operation) {
	for _, name := range syncOperations {
		ops[name] = op(a, onNothing[struct{}](actionPrefix+name), func(context.Context, call, *struct{}) (any, error) {
			return nil, newError(codeUnsupportedOp, "forgelink does not implement Git sync (CloudFormation stack sync): "+
				"%s is not supported. Repository links are; to act on repository events, configure forgelink pipelines", name)
		})
	}
}
