package policy

import (
	"fmt"
	"strings"
	"unicode"
)

// Service is the action and ARN prefix of CodeConnections' actions;
// LegacyService is accepted as an alias for it, because both API
// namespaces reach the same records. ForgelinkService is the prefix of the
// operations AWS does not have: they act on the same records (their
// resources are codeconnections ARNs) but are no CodeConnections action,
// so a policy written for AWS never grants them by accident.
const (
	Service          = "codeconnections"
	LegacyService    = "codestar-connections"
	ForgelinkService = "forgelink"
)

// forgelinkOperations are forgelink's own operations, each authorised as
// the action "forgelink:<name>".
var forgelinkOperations = [...]string{
	"GetConnectionWebhook", "RotateConnectionWebhookSecret",
	"ListEvents", "GetEvent", "ExplainEvent",
	"ListDeliveries", "GetDelivery", "RedeliverDelivery", "DiscardDelivery",
	"ListPipelines", "GetPipeline",
	"CreateConsoleLink", "GetMetrics", "StartGitHubAppSetup",
}

// ForgelinkActions returns the actions of forgelink's own operations,
// "forgelink:GetConnectionWebhook" and so on, as a new slice.
func ForgelinkActions() []string {
	actions := make([]string, len(forgelinkOperations))
	for i, op := range forgelinkOperations {
		actions[i] = ForgelinkService + ":" + op
	}
	return actions
}

// forgelinkOperation returns the canonical spelling of a forgelink
// operation named in any case.
func forgelinkOperation(name string) (string, bool) {
	for _, op := range forgelinkOperations {
		if strings.EqualFold(op, name) {
			return op, true
		}
	}
	return "", false
}

// normalizeAction folds case (IAM action names are case-insensitive) and
// the legacy service prefix into the one form matching compares.
func normalizeAction(a string) string {
	a = strings.ToLower(a)
	if rest, ok := strings.CutPrefix(a, LegacyService+":"); ok {
		return Service + ":" + rest
	}
	return a
}

// CheckAction validates an action pattern: "*", or "<service>:<name>"
// where the service is codeconnections (or its alias codestar-connections)
// or forgelink, and the name is letters and digits with '*' and '?'
// wildcards. Two mistakes that would silently match nothing are refused:
// a forgelink operation written under codeconnections (the spelling of
// earlier releases), and a forgelink pattern that names none of
// forgelink's operations.
func CheckAction(a string) error {
	if a == "*" {
		return nil
	}
	service, name, ok := strings.Cut(a, ":")
	forgelink := ok && strings.EqualFold(service, ForgelinkService)
	if !ok || !(forgelink || strings.EqualFold(service, Service) || strings.EqualFold(service, LegacyService)) {
		return fmt.Errorf("want %s:<Action>, %s:<Action> (wildcards * and ? allowed in the action) or *, got %q", Service, ForgelinkService, a)
	}
	if name == "" || len(name) > 128 {
		return fmt.Errorf("want 1-128 characters after %q, got %q", service+":", a)
	}
	for _, r := range name {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '*' || r == '?') {
			return fmt.Errorf("an action name has only letters, digits and the wildcards * and ?, got %q", a)
		}
	}
	wild := strings.ContainsAny(name, "*?")
	if !forgelink {
		if op, own := forgelinkOperation(name); own && !wild {
			return fmt.Errorf("%s is forgelink's own operation, not a CodeConnections action: write %s:%s", a, ForgelinkService, op)
		}
		return nil
	}
	pattern := strings.ToLower(name)
	for _, op := range forgelinkOperations {
		if match(pattern, strings.ToLower(op)) {
			return nil
		}
	}
	return fmt.Errorf("%q names none of forgelink's actions (%s); CodeConnections' actions are written %s:<Action>", a, strings.Join(ForgelinkActions(), ", "), Service)
}
