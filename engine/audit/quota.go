package audit

import (
	"cmp"
	"slices"
	"time"

	"github.com/sluicehq/sluice/engine/store"
)

// Hourly counts the requests really sent (cache hits left out) on one connection's bucket in
// each of the hours hours that end at end, oldest first: element i covers
// [end-(hours-i)h, end-(hours-i-1)h). Pass an end on the hour for clock hours. Connection and
// bucket must match exactly; unmetered calls have the bucket "". It returns nil when hours
// is not positive.
func Hourly(calls []store.Call, connection, bucket string, end time.Time, hours int) []int {
	if hours <= 0 {
		return nil
	}
	out := make([]int, hours)
	start := end.Add(-time.Duration(hours) * time.Hour)
	for _, c := range calls {
		if c.CacheHit || c.Connection != connection || c.Bucket != bucket || c.At.Before(start) || !c.At.Before(end) {
			continue
		}
		out[c.At.Sub(start)/time.Hour]++
	}
	return out
}

// Spender is what one workflow spent of one connection's bucket.
type Spender struct {
	Connection, Bucket, Workflow string
	// Calls counts the requests sent; CacheHits the reads the cache answered instead.
	Calls, CacheHits int
}

// Spenders sums calls per connection, bucket and workflow, the most requests sent first
// (then the most cache hits, then by connection, bucket and workflow).
//
// A cache hit is audited without a bucket, since nothing was sent to be charged. It is
// counted under the bucket that the requests sent to the same connection, method and route
// (among calls) were charged to, when that is one bucket; otherwise under "".
func Spenders(calls []store.Call) []Spender {
	type route struct{ connection, method, route string }
	const ambiguous = "\x00"
	buckets := map[route]string{}
	for _, c := range calls {
		if c.CacheHit || c.Bucket == "" {
			continue
		}
		k := route{c.Connection, c.Method, c.Route}
		if b, ok := buckets[k]; ok && b != c.Bucket {
			buckets[k] = ambiguous
		} else if !ok {
			buckets[k] = c.Bucket
		}
	}
	type key struct{ connection, bucket, workflow string }
	index := map[key]int{}
	var out []Spender
	for _, c := range calls {
		bucket := c.Bucket
		if c.CacheHit && bucket == "" {
			if b := buckets[route{c.Connection, c.Method, c.Route}]; b != ambiguous {
				bucket = b
			}
		}
		k := key{c.Connection, bucket, c.Workflow}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, Spender{Connection: c.Connection, Bucket: bucket, Workflow: c.Workflow})
		}
		if c.CacheHit {
			out[i].CacheHits++
		} else {
			out[i].Calls++
		}
	}
	slices.SortFunc(out, func(a, b Spender) int {
		return cmp.Or(
			cmp.Compare(b.Calls, a.Calls),
			cmp.Compare(b.CacheHits, a.CacheHits),
			cmp.Compare(a.Connection, b.Connection),
			cmp.Compare(a.Bucket, b.Bucket),
			cmp.Compare(a.Workflow, b.Workflow),
		)
	})
	return out
}
