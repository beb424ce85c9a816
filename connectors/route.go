package connectors

import "context"

type routeKey struct{}

// WithRoute labels the requests made with ctx by their path template, such as
// "/api/v9/me/time_entries" or "/rest/api/3/issue/{key}/worklog". The audit records the
// template, never the concrete path, so ids and names stay out of it.
func WithRoute(ctx context.Context, template string) context.Context {
	return context.WithValue(ctx, routeKey{}, template)
}

// Route returns the path template set by WithRoute, or "".
func Route(ctx context.Context) string {
	s, _ := ctx.Value(routeKey{}).(string)
	return s
}
