package jirasim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

type propertyKeyJSON struct {
	Self string `json:"self"`
	Key  string `json:"key"`
}

type propertyKeysJSON struct {
	Keys []propertyKeyJSON `json:"keys"`
}

// worklogForProperty resolves the issue and {worklogId} of a property operation: 400 for an id
// that is not a number (as the spec says), 404 for a missing worklog.
func (s *Server) worklogForProperty(c *call) (*worklog, *reply) {
	iss, rep := s.issueFor(c)
	if rep != nil {
		return nil, rep
	}
	if _, err := strconv.ParseInt(c.params["worklogId"], 10, 64); err != nil {
		return nil, errorf(http.StatusBadRequest, "The worklog ID %q is invalid.", c.params["worklogId"])
	}
	return s.worklogOn(iss, c.params["worklogId"])
}

func propertySelf(base string, w *worklog, key string) string {
	return base + "/rest/api/3/issue/" + strconv.FormatInt(w.issue.id, 10) + "/worklog/" +
		strconv.FormatInt(w.id, 10) + "/properties/" + url.PathEscape(key)
}

func (s *Server) getWorklogPropertyKeys(c *call) *reply {
	w, rep := s.worklogForProperty(c)
	if rep != nil {
		return rep
	}
	out := propertyKeysJSON{Keys: make([]propertyKeyJSON, 0, len(w.props))}
	for _, p := range w.props {
		out.Keys = append(out.Keys, propertyKeyJSON{Self: propertySelf(c.base, w, p.Key), Key: p.Key})
	}
	return jsonReply(http.StatusOK, out)
}

func (s *Server) getWorklogProperty(c *call) *reply {
	w, rep := s.worklogForProperty(c)
	if rep != nil {
		return rep
	}
	key := c.params["propertyKey"]
	for _, p := range w.props {
		if p.Key == key {
			return jsonReply(http.StatusOK, propertyJSON(p))
		}
	}
	return errorf(http.StatusNotFound, "The property with key %q does not exist.", trimmedKey(key))
}

// setWorklogProperty stores the body as the property's value: 201 when the property is new,
// 200 when it replaced a value. The worklog's updated time does not change.
func (s *Server) setWorklogProperty(c *call) *reply {
	w, rep := s.worklogForProperty(c)
	if rep != nil {
		return rep
	}
	key := c.params["propertyKey"]
	if msg := checkPropertyKey(key); msg != "" {
		return errorReply(http.StatusBadRequest, []string{msg}, nil)
	}
	if msg := checkPropertyValue(c.body); msg != "" {
		return errorReply(http.StatusBadRequest, []string{msg}, nil)
	}
	if w.setProperty(key, compactJSON(c.body)) {
		return emptyReply(http.StatusCreated)
	}
	return emptyReply(http.StatusOK)
}

func (s *Server) deleteWorklogProperty(c *call) *reply {
	w, rep := s.worklogForProperty(c)
	if rep != nil {
		return rep
	}
	key := c.params["propertyKey"]
	if !w.deleteProperty(key) {
		return errorf(http.StatusNotFound, "The property with key %q does not exist.", trimmedKey(key))
	}
	return emptyReply(http.StatusNoContent)
}

// trimmedKey is used in messages about a property key, which may be long.
func trimmedKey(key string) string {
	if len(key) > 40 {
		return strings.ToValidUTF8(key[:40], "") + "…"
	}
	return key
}
