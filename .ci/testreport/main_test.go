package main

import (
	"strings"
	"testing"
)

// A run with a pass, a skip with its reason, a failure and a package
// without tests, as `go test -json` writes it.
const stream = `{"Action":"start","Package":"p/a"}
{"Action":"run","Package":"p/a","Test":"TestReal"}
{"Action":"output","Package":"p/a","Test":"TestReal","Output":"=== RUN   TestReal\n"}
{"Action":"output","Package":"p/a","Test":"TestReal","Output":"    real_test.go:12: CAA_REPO is not set: nothing to render\n"}
{"Action":"output","Package":"p/a","Test":"TestReal","Output":"--- SKIP: TestReal (0.00s)\n"}
{"Action":"skip","Package":"p/a","Test":"TestReal"}
{"Action":"run","Package":"p/a","Test":"TestOK"}
{"Action":"output","Package":"p/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"p/a","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"p/a","Test":"TestOK"}
{"Action":"output","Package":"p/a","Output":"PASS\n"}
{"Action":"output","Package":"p/a","Output":"ok  \tp/a\t0.01s\n"}
{"Action":"pass","Package":"p/a"}
{"Action":"run","Package":"p/b","Test":"TestBad"}
{"Action":"output","Package":"p/b","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"output","Package":"p/b","Test":"TestBad","Output":"    bad_test.go:3: want 1, got 2\n"}
{"Action":"output","Package":"p/b","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"p/b","Test":"TestBad"}
{"Action":"output","Package":"p/b","Output":"FAIL\n"}
{"Action":"output","Package":"p/b","Output":"FAIL\tp/b\t0.01s\n"}
{"Action":"fail","Package":"p/b"}
{"Action":"output","Package":"p/c","Output":"?   \tp/c\t[no test files]\n"}
{"Action":"skip","Package":"p/c"}
`

func TestReportShowsSkipsAndKeepsGoTestLines(t *testing.T) {
	var out strings.Builder
	n, skips, err := report(strings.NewReader(stream), &out)
	if err != nil {
		t.Fatal(err)
	}
	summary(&out, n, skips)
	want := "ok  \tp/a\t0.01s\n" +
		"=== RUN   TestBad\n    bad_test.go:3: want 1, got 2\n--- FAIL: TestBad (0.00s)\nFAIL\nFAIL\tp/b\t0.01s\n" +
		"?   \tp/c\t[no test files]\n" +
		"tests: 1 passed, 1 failed, 1 skipped\n  SKIP p/a TestReal: real_test.go:12: CAA_REPO is not set: nothing to render\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestReportRefusesPlainOutput(t *testing.T) {
	if _, _, err := report(strings.NewReader("ok  \tp/a\t0.01s\n"), &strings.Builder{}); err == nil {
		t.Error("plain go test output must be refused: the skips would be lost silently")
	}
}
