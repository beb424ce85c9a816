package jirasim_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sluicehq/sluice/connectors/jira/jirasim"
)

// A sink test seeds an account and an issue, serves the simulator over loopback HTTP and
// talks to it like to Jira Cloud.
func Example() {
	sim := jirasim.New(jirasim.Options{})
	sim.AddAccount("ada@example.com", "api-token", "Ada Lovelace")
	sim.AddIssue("SLU-1", "Write docs")
	srv := httptest.NewServer(sim)
	defer srv.Close()

	body := `{"started": "2026-05-04T09:00:00.000+0000", "timeSpentSeconds": 5400,
	  "comment": {"type": "doc", "version": 1, "content": [
	    {"type": "paragraph", "content": [{"type": "text", "text": "Toggl #123: writing docs"}]}]},
	  "properties": [{"key": "sluice", "value": {"toggl_id": 123}}]}`
	req, err := http.NewRequest("POST", srv.URL+"/rest/api/3/issue/SLU-1/worklog?notifyUsers=false", strings.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	req.SetBasicAuth("ada@example.com", "api-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()

	w := sim.Worklogs("SLU-1")[0]
	key, _ := w.Property("sluice")
	fmt.Println(resp.StatusCode, w.TimeSpentSeconds, w.CommentText(), string(key))
	// Output: 201 5400 Toggl #123: writing docs {"toggl_id":123}
}
