package stack

import (
	"fmt"
	"strconv"
	"strings"
)

// Getter returns the raw value of a fully qualified key ("caa-azure:tee",
// "azure-native:location") and whether it is set.
type Getter func(key string) (string, bool)

// reader reads configuration keys once, with typed getters that record
// every problem instead of stopping at the first, so the user sees all of
// them in one run.
type reader struct {
	get      Getter
	problems []string
}

// qualify puts a key of ours in the project namespace.
func qualify(key string) string {
	if strings.Contains(key, ":") {
		return key
	}
	return namespace + ":" + key
}

// fail records a problem with key: what is wrong and what would be valid.
func (r *reader) fail(key, format string, args ...any) {
	r.problems = append(r.problems, qualify(key)+": "+fmt.Sprintf(format, args...))
}

// isSet reports whether key is set at all (even to "").
func (r *reader) isSet(key string) bool {
	_, ok := r.get(qualify(key))
	return ok
}

// str is the trimmed value of key, "" when unset.
func (r *reader) str(key string) string {
	v, _ := r.get(qualify(key))
	return strings.TrimSpace(v)
}

// strOr is str with a default for an empty value.
func (r *reader) strOr(key, def string) string {
	if v := r.str(key); v != "" {
		return v
	}
	return def
}

// boolean reads an optional boolean; meaning says what true and false do.
func (r *reader) boolean(key string, def bool, meaning string) bool {
	raw := r.str(key)
	if raw == "" {
		return def
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		r.fail(key, "%q is not a boolean; use true or false (%s)", raw, meaning)
		return def
	}
	return b
}

// integer reads an optional whole number; check returns what is wrong with
// a parsed value, or "".
func (r *reader) integer(key string, def int, help string, check func(int) string) int {
	raw := r.str(key)
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		r.fail(key, "%q is not a whole number; %s", raw, help)
		return def
	}
	if problem := check(n); problem != "" {
		r.fail(key, "%d %s; %s", n, problem, help)
		return def
	}
	return n
}

// oneOf reads a key that takes one of a few words; help says what each does.
func (r *reader) oneOf(key, def string, allowed []string, help string) string {
	v := r.strOr(key, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(key, "%q is not valid; %s", v, help)
	return v
}

// list reads a comma-separated list, skipping empty items.
func (r *reader) list(key string) []string {
	var out []string
	for _, item := range strings.Split(r.str(key), ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// err is every problem as one ConfigError, or nil.
func (r *reader) err() error {
	if len(r.problems) == 0 {
		return nil
	}
	return &ConfigError{Problems: r.problems}
}
