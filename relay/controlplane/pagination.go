package controlplane

import (
	"encoding/base64"
	"slices"
	"strings"

	"github.com/forgelink/forgelink/store"
)

// defaultPageSize applies when MaxResults is absent or 0. The AWS CLI does
// not paginate these listings by itself, so the default is the model's
// maximum: a plain list-connections shows as much as one page can.
const defaultPageSize = maxResultsLimit

// pageSize validates MaxResults (0-100).
func pageSize(maxResults *int) (int, error) {
	if maxResults == nil || *maxResults == 0 {
		return defaultPageSize, nil
	}
	if *maxResults < 0 || *maxResults > maxResultsLimit {
		return 0, validationError("Value '%d' at 'MaxResults' failed to satisfy constraint: Member must have value between 0 and %d", *maxResults, maxResultsLimit)
	}
	return *maxResults, nil
}

// Values of SortOrder, the order of ListEvents and ListDeliveries, named
// and spelled as CodeBuild's SortOrderType.
const (
	ascending  = "ASCENDING"
	descending = "DESCENDING"
)

var sortOrders = []string{ascending, descending}

// sortOrder validates SortOrder and reports whether it asks for newest
// first; absent means ASCENDING, the order before the member existed.
func sortOrder(order *string) (desc bool, err error) {
	if order == nil {
		return false, nil
	}
	if !slices.Contains(sortOrders, *order) {
		return false, validationError("Value '%s' at 'SortOrder' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
			*order, strings.Join(sortOrders, ", "))
	}
	return *order == descending, nil
}

// orderScope ends a listing's token scope with its order, so that a token
// of one order cannot be replayed against the other.
func orderScope(scope string, desc bool) string {
	if desc {
		return scope + "\x00" + descending
	}
	return scope + "\x00" + ascending
}

// A NextToken is opaque to clients. It carries the listing it belongs to
// (kind and filters), so a token cannot be replayed against another query,
// and the last id returned.
func encodeToken(scope, lastID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(scope + "\x00" + lastID))
}

// decodeToken returns the id to resume after; "" when token is nil.
func decodeToken(scope string, token *string) (string, error) {
	if token == nil {
		return "", nil
	}
	invalid := validationError("invalid NextToken: pass back the NextToken of a previous response to the same request")
	if len(*token) < 1 || len(*token) > maxNextToken {
		return "", invalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(*token)
	if err != nil {
		return "", invalid
	}
	i := strings.LastIndexByte(string(raw), 0)
	if i < 0 || string(raw[:i]) != scope || i == len(raw)-1 {
		return "", invalid
	}
	return string(raw[i+1:]), nil
}

// listPage reads one page of a listing scoped by scope: up to MaxResults
// records after the NextToken's id, through list, and the NextToken of the
// next page when there is one. Asking for one record more than the page
// tells whether there is.
func listPage[T any](maxResults *int, nextToken *string, scope string,
	list func(store.Page) ([]T, error), id func(T) string) ([]T, *string, error) {
	limit, err := pageSize(maxResults)
	if err != nil {
		return nil, nil, err
	}
	after, err := decodeToken(scope, nextToken)
	if err != nil {
		return nil, nil, err
	}
	records, err := list(store.Page{After: after, Limit: limit + 1})
	if err != nil {
		return nil, nil, err
	}
	if len(records) <= limit {
		return records, nil, nil
	}
	records = records[:limit]
	token := encodeToken(scope, id(records[limit-1]))
	return records, &token, nil
}
