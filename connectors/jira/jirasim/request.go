package jirasim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on worklog properties from the setWorklogProperty operation.
const (
	maxPropertyKeyChars   = 255
	maxPropertyValueBytes = 32768
)

// Error texts. Those Jira is known to send are marked; the others are the simulator's own.
const (
	// Seen from Jira (issue #193 of jira-node/node-jira-client and gouqi#128).
	msgTimeRequired = "You must indicate the time spent working."
	msgNewEstimate  = "You must supply a valid new estimate."
	// Seen from Jira for non-ADF rich-text fields in v3 (php-jira-rest-client#280).
	msgADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
	// Seen from Jira for a worklog body that could not be read.
	msgNullWorklog = "Worklog must not be null."
	// Jira's usual answer for a missing or hidden issue.
	msgNoIssue = "Issue does not exist or you do not have permission to see it."

	msgTimeInvalid  = "Invalid time duration entered."
	msgTimeBoth     = "Provide either timeSpent or timeSpentSeconds, not both."
	msgTimeMinimum  = "Time spent must be at least 1 minute (60 seconds)."
	msgReduceBy     = "You must supply a valid amount of time to reduce the estimate by."
	msgIncreaseBy   = "You must supply a valid amount of time to increase the estimate by."
	msgVisibility   = `Visibility must be an object with type "group" or "role".`
	msgPropertyList = "Properties must be an array of objects with a key and a value."
	msgPropKeyEmpty = "The property key cannot be empty."
	msgPropKeyLong  = "The property key cannot be longer than 255 characters."
	msgPropValue    = "The property value must be a valid, non-empty JSON value."
	msgPropValueBig = "The property value cannot be longer than 32768 bytes."
)

// worklogInput is a decoded Worklog request body. Nil fields were absent (or null).
type worklogInput struct {
	started    *time.Time
	seconds    *int64
	comment    json.RawMessage
	visibility json.RawMessage
	props      []Property
}

// decodeObject reads a JSON object body. It answers 400 for an empty, null, malformed or
// non-object body, with nullMessage for the first two.
func decodeObject(body []byte, nullMessage string) (map[string]json.RawMessage, *reply) {
	if len(bytes.TrimSpace(body)) == 0 || isJSONNull(body) {
		return nil, errorf(http.StatusBadRequest, "%s", nullMessage)
	}
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		return nil, errorf(http.StatusBadRequest, "Malformed JSON: %v.", err)
	}
	if !isJSONObject(body) {
		return nil, errorf(http.StatusBadRequest, "The request body must be a JSON object.")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, errorf(http.StatusBadRequest, "Malformed JSON: %v.", err)
	}
	// A null field counts as absent.
	for k, v := range m {
		if isJSONNull(v) {
			delete(m, k)
		}
	}
	return m, nil
}

// decodeWorklog reads a Worklog body. Field problems go into errs; a body that cannot be read
// at all answers at once. Unknown fields are ignored (Worklog allows additional properties),
// and so are the read-only ones.
func (s *Server) decodeWorklog(body []byte, create bool, errs map[string]string) (worklogInput, *reply) {
	var in worklogInput
	m, rep := decodeObject(body, msgNullWorklog)
	if rep != nil {
		return in, rep
	}

	if raw, ok := m["started"]; ok {
		var str string
		if json.Unmarshal(raw, &str) != nil {
			errs["started"] = startedMessage
		} else if t, ok := parseStarted(str); !ok {
			errs["started"] = startedMessage
		} else {
			in.started = &t
		}
	} else if create {
		errs["started"] = startedMessage
	}

	rawSecs, hasSecs := m["timeSpentSeconds"]
	rawSpent, hasSpent := m["timeSpent"]
	switch {
	case hasSecs && hasSpent:
		errs["timeLogged"] = msgTimeBoth
	case hasSecs:
		if n, err := strconv.ParseInt(string(bytes.TrimSpace(rawSecs)), 10, 64); err != nil {
			errs["timeLogged"] = msgTimeInvalid
		} else {
			in.seconds = &n
		}
	case hasSpent:
		var str string
		if json.Unmarshal(rawSpent, &str) != nil {
			errs["timeLogged"] = msgTimeInvalid
		} else if n, ok := parseDuration(str); !ok {
			errs["timeLogged"] = msgTimeInvalid
		} else {
			in.seconds = &n
		}
	case create:
		errs["timeLogged"] = msgTimeRequired
	}
	if in.seconds != nil {
		switch n := *in.seconds; {
		case n <= 0:
			errs["timeLogged"] = msgTimeRequired
			in.seconds = nil
		case n < secondsPerMinute && s.opts.MinSeconds == MinReject:
			errs["timeLogged"] = msgTimeMinimum
			in.seconds = nil
		case n < secondsPerMinute && s.opts.MinSeconds == MinRound:
			*in.seconds = secondsPerMinute
		}
	}

	if raw, ok := m["comment"]; ok {
		if isADFDoc(raw) {
			in.comment = compactJSON(raw)
		} else {
			errs["comment"] = msgADF
		}
	}

	if raw, ok := m["visibility"]; ok {
		var v struct {
			Type string `json:"type"`
		}
		if !isJSONObject(raw) || json.Unmarshal(raw, &v) != nil || (v.Type != "group" && v.Type != "role") {
			errs["visibility"] = msgVisibility
		} else {
			in.visibility = compactJSON(raw)
		}
	}

	if raw, ok := m["properties"]; ok {
		props, msg := decodeProperties(raw)
		if msg != "" {
			errs["properties"] = msg
		} else {
			in.props = props
		}
	}
	return in, nil
}

// decodeProperties reads an array of EntityProperty, which allows no other fields.
func decodeProperties(raw json.RawMessage) ([]Property, string) {
	var items []json.RawMessage
	if !isJSONArray(raw) || json.Unmarshal(raw, &items) != nil {
		return nil, msgPropertyList
	}
	props := make([]Property, 0, len(items))
	for _, item := range items {
		var m map[string]json.RawMessage
		if !isJSONObject(item) || json.Unmarshal(item, &m) != nil {
			return nil, msgPropertyList
		}
		for k := range m {
			if k != "key" && k != "value" {
				return nil, fmt.Sprintf("Unrecognized field %q in a worklog property.", k)
			}
		}
		var key string
		if rawKey, ok := m["key"]; !ok || json.Unmarshal(rawKey, &key) != nil {
			return nil, msgPropKeyEmpty
		}
		if msg := checkPropertyKey(key); msg != "" {
			return nil, msg
		}
		value, ok := m["value"]
		if !ok {
			return nil, msgPropValue
		}
		if msg := checkPropertyValue(value); msg != "" {
			return nil, msg
		}
		props = append(props, Property{Key: key, Value: compactJSON(value)})
	}
	return props, ""
}

func checkPropertyKey(key string) string {
	switch {
	case key == "":
		return msgPropKeyEmpty
	case utf8.RuneCountInString(key) > maxPropertyKeyChars:
		return msgPropKeyLong
	}
	return ""
}

// checkPropertyValue checks a property value as sent: valid JSON, not empty, not null, at most
// 32768 bytes.
func checkPropertyValue(raw []byte) string {
	switch {
	case len(bytes.TrimSpace(raw)) == 0 || !json.Valid(raw) || isJSONNull(raw):
		return msgPropValue
	case len(raw) > maxPropertyValueBytes:
		return msgPropValueBig
	}
	return ""
}

// boolParam reads an optional true/false query parameter.
func boolParam(q url.Values, name string, def bool, errs map[string]string) bool {
	if !q.Has(name) {
		return def
	}
	switch strings.ToLower(q.Get(name)) {
	case "true":
		return true
	case "false":
		return false
	}
	errs[name] = fmt.Sprintf("%s must be true or false.", name)
	return def
}

// estimateOp names the operations that take adjustEstimate; each allows different modes.
type estimateOp int

const (
	opAdd estimateOp = iota
	opUpdate
	opDelete
	opBulkDelete
)

// estimate is a parsed adjustEstimate with its amount in seconds (for new and manual).
type estimate struct {
	mode   string
	amount int64
}

// parseEstimate reads adjustEstimate (default auto, any case) and the parameter its mode needs.
func parseEstimate(q url.Values, op estimateOp, errs map[string]string) estimate {
	e := estimate{mode: "auto"}
	if q.Has("adjustEstimate") {
		e.mode = strings.ToLower(q.Get("adjustEstimate"))
	}
	allowed := map[estimateOp][]string{
		opAdd:        {"new", "leave", "manual", "auto"},
		opUpdate:     {"new", "leave", "auto"},
		opDelete:     {"new", "leave", "manual", "auto"},
		opBulkDelete: {"leave", "auto"},
	}[op]
	ok := false
	for _, m := range allowed {
		ok = ok || m == e.mode
	}
	if !ok {
		errs["adjustEstimate"] = fmt.Sprintf("adjustEstimate must be one of %s here, not %q.",
			strings.Join(allowed, ", "), q.Get("adjustEstimate"))
		return estimate{mode: "leave"}
	}
	amount := func(param, msg string) {
		n, ok := parseDuration(q.Get(param))
		if !q.Has(param) || !ok {
			errs[param] = msg
			return
		}
		e.amount = n
	}
	switch {
	case e.mode == "new":
		amount("newEstimate", msgNewEstimate)
	case e.mode == "manual" && op == opAdd:
		amount("reduceBy", msgReduceBy)
	case e.mode == "manual" && op == opDelete:
		amount("increaseBy", msgIncreaseBy)
	}
	return e
}

// decodeIDs reads a WorklogIdsRequestBean: {"ids": [int64, ...]}, unique, 1 to limit of them.
func decodeIDs(body []byte, limit int) ([]int64, *reply) {
	m, rep := decodeObject(body, "The request must contain a list of worklog ids.")
	if rep != nil {
		return nil, rep
	}
	for k := range m {
		if k != "ids" {
			return nil, errorf(http.StatusBadRequest, "Unrecognized field %q.", k)
		}
	}
	var raws []json.RawMessage
	if raw, ok := m["ids"]; !ok || !isJSONArray(raw) || json.Unmarshal(raw, &raws) != nil {
		return nil, errorf(http.StatusBadRequest, "ids must be an array of worklog ids.")
	}
	switch {
	case len(raws) == 0:
		return nil, errorf(http.StatusBadRequest, "ids must not be empty.")
	case len(raws) > limit:
		return nil, errorf(http.StatusBadRequest, "No more than %d worklog ids can be given at once.", limit)
	}
	ids := make([]int64, 0, len(raws))
	seen := map[int64]bool{}
	for _, raw := range raws {
		id, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "Worklog id %s is not a number.", raw)
		}
		if seen[id] {
			return nil, errorf(http.StatusBadRequest, "Worklog id %d is given twice.", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	return ids, nil
}

// expandsProperties reports whether the expand parameter asks for properties.
func expandsProperties(q url.Values) bool {
	for _, v := range q["expand"] {
		for part := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(part) == "properties" {
				return true
			}
		}
	}
	return false
}
