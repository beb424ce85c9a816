package workflow

import (
	"fmt"
	"strings"
)

// LookupEnv reads an environment variable; os.LookupEnv in production.
type LookupEnv func(name string) (string, bool)

// expandEnv replaces ${NAME} and ${NAME:-default} in s with the environment's values; $$ is a
// literal $. A $ followed by anything else stays as it is.
func expandEnv(s string, lookup LookupEnv) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ in %q", s)
			}
			ref := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(ref, ":-")
			if !validEnvName(name) {
				return "", fmt.Errorf("${%s}: %q is not a valid environment variable name", ref, name)
			}
			v, ok := lookup(name)
			switch {
			case ok && v != "":
				b.WriteString(v)
			case hasDef:
				b.WriteString(def)
			case ok:
				return "", fmt.Errorf("environment variable %s is empty", name)
			default:
				return "", fmt.Errorf("environment variable %s is not set", name)
			}
			i += 2 + end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		letter := r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
