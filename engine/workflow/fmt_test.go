package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
)

// fmtAll prints v every way a secret could leak: fmt verbs, JSON and both slog handlers.
func fmtAll(v any) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%v %s %q %+v %#v %x ", v, v, v, v, v, v)
	j, _ := json.Marshal(map[string]any{"v": v})
	b.Write(j)
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "v", v)
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "v", v)
	return b.String()
}
