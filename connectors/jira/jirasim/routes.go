package jirasim

import (
	"net/url"
	"strings"
)

// route is one operation of the simulated API.
type route struct {
	method  string
	pattern string
	segs    []string
	// write marks operations that change state: they spend the per-issue write limiter and
	// can have their response lost.
	write bool
	// body marks operations that take a JSON body (Content-Type is checked).
	body bool
	// worklog marks operations that answer 404 while time tracking is off.
	worklog bool
	handle  func(*Server, *call) *reply
}

const (
	issuePath    = "/rest/api/3/issue/{issueIdOrKey}"
	worklogsPath = issuePath + "/worklog"
	worklogPath  = worklogsPath + "/{id}"
	propsPath    = worklogsPath + "/{worklogId}/properties"
	propPath     = propsPath + "/{propertyKey}"
)

var routes = buildRoutes([]route{
	{method: "GET", pattern: "/rest/api/3/myself", handle: (*Server).getMyself},
	{method: "GET", pattern: issuePath, handle: (*Server).getIssue},
	{method: "GET", pattern: worklogsPath, worklog: true, handle: (*Server).getIssueWorklog},
	{method: "POST", pattern: worklogsPath, worklog: true, write: true, body: true, handle: (*Server).addWorklog},
	{method: "DELETE", pattern: worklogsPath, worklog: true, write: true, body: true, handle: (*Server).bulkDeleteWorklogs},
	{method: "GET", pattern: worklogPath, worklog: true, handle: (*Server).getWorklog},
	{method: "PUT", pattern: worklogPath, worklog: true, write: true, body: true, handle: (*Server).updateWorklog},
	{method: "DELETE", pattern: worklogPath, worklog: true, write: true, handle: (*Server).deleteWorklog},
	{method: "GET", pattern: propsPath, worklog: true, handle: (*Server).getWorklogPropertyKeys},
	{method: "GET", pattern: propPath, worklog: true, handle: (*Server).getWorklogProperty},
	{method: "PUT", pattern: propPath, worklog: true, write: true, body: true, handle: (*Server).setWorklogProperty},
	{method: "DELETE", pattern: propPath, worklog: true, write: true, handle: (*Server).deleteWorklogProperty},
	{method: "POST", pattern: "/rest/api/3/worklog/list", worklog: true, body: true, handle: (*Server).getWorklogsForIds},
	{method: "GET", pattern: "/rest/api/3/worklog/updated", worklog: true, handle: (*Server).getWorklogsUpdated},
	{method: "GET", pattern: "/rest/api/3/worklog/deleted", worklog: true, handle: (*Server).getWorklogsDeleted},
})

func buildRoutes(rs []route) []route {
	for i := range rs {
		rs[i].segs = strings.Split(strings.TrimPrefix(rs[i].pattern, "/"), "/")
	}
	return rs
}

// matchRoute finds the route for method and escaped path. When the path exists under other
// methods only, it returns those methods instead.
func matchRoute(method, escapedPath string) (*route, map[string]string, []string) {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	var allowed []string
	for i := range routes {
		rt := &routes[i]
		params, ok := matchSegs(rt.segs, segs)
		if !ok {
			continue
		}
		if rt.method == method {
			return rt, params, nil
		}
		allowed = append(allowed, rt.method)
	}
	return nil, nil, allowed
}

func matchSegs(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			v, err := url.PathUnescape(segs[i])
			if err != nil || v == "" {
				return nil, false
			}
			params[strings.Trim(p, "{}")] = v
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}
