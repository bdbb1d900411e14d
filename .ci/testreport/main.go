// Command testreport reads `go test -json` on stdin and prints what plain
// `go test` prints (each package's closing line, the output of failing
// tests, build errors), then every skipped test with the reason it gave,
// so a green run cannot hide tests that never ran. It exits non-zero when
// the stream is not go test's JSON; go test's own exit status stays the
// judge of failures (.ci/run runs with pipefail).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// tally counts the tests (subtests included) by their end; its line,
// "tests: N passed, N failed, N skipped", is the plain closing line CI
// reads besides go test's own.
type tally struct{ passed, failed, skipped int }

// skip is one skipped test and the lines it logged.
type skip struct {
	pkg, test string
	reason    []string
}

func main() {
	n, skips, err := report(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	summary(os.Stdout, n, skips)
}

// report copies go test's plain output to w and returns the skips.
func report(r io.Reader, w io.Writer) (tally, []skip, error) {
	type key struct{ pkg, test string }
	var n tally
	logged := map[key][]string{}
	var skips []skip
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			return n, nil, fmt.Errorf("not go test -json output: %q", line)
		}
		k := key{e.Package, e.Test}
		switch {
		case e.Action == "build-output":
			fmt.Fprint(w, e.Output)
		case e.Action == "output" && e.Test == "":
			// The package's own lines: "ok", "FAIL", "? ... [no test
			// files]", panics; the bare "PASS" of -v mode is noise.
			if e.Output != "PASS\n" {
				fmt.Fprint(w, e.Output)
			}
		case e.Action == "output":
			logged[k] = append(logged[k], e.Output)
		case e.Action == "fail" && e.Test != "":
			n.failed++
			fmt.Fprint(w, strings.Join(logged[k], ""))
			delete(logged, k)
		case e.Action == "skip" && e.Test != "":
			n.skipped++
			skips = append(skips, skip{pkg: e.Package, test: e.Test, reason: reasons(logged[k])})
			delete(logged, k)
		case e.Action == "pass" && e.Test != "":
			n.passed++
			delete(logged, k)
		}
	}
	return n, skips, sc.Err()
}

// reasons keeps what the test logged, without the framing lines.
func reasons(lines []string) []string {
	var out []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		out = append(out, t)
	}
	return out
}

// summary prints the counts, then each skip with its reason.
func summary(w io.Writer, n tally, skips []skip) {
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", n.passed, n.failed, n.skipped)
	for _, s := range skips {
		reason := strings.Join(s.reason, " / ")
		if reason == "" {
			reason = "(no reason given)"
		}
		fmt.Fprintf(w, "  SKIP %s %s: %s\n", s.pkg, s.test, reason)
	}
}
