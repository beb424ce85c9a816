package workflow

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Diagnostic is one problem in a configuration or workflow file, at a position.
type Diagnostic struct {
	File      string
	Line, Col int
	Msg       string
}

func (d Diagnostic) Error() string {
	if d.Line == 0 {
		return fmt.Sprintf("%s: %s", d.File, d.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Col, d.Msg)
}

// Diagnostics is every problem found by one load, in file and position order.
type Diagnostics []Diagnostic

func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders diagnostics by file, line and column, keeping the order of equal positions.
func (ds Diagnostics) sort() {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}

// err returns ds as an error, or nil when there is none.
func (ds Diagnostics) err() error {
	if len(ds) == 0 {
		return nil
	}
	ds.sort()
	return ds
}
