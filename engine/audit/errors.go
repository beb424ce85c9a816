package audit

import "strings"

// QueryError is a Query that Build refuses; Problems says each thing wrong with it, in
// words fit to show a user.
type QueryError struct {
	Problems []string
}

func (e *QueryError) Error() string {
	return "audit: invalid query: " + strings.Join(e.Problems, "; ")
}
