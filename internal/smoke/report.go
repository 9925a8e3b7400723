package smoke

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/codrive/codrive/internal/sanitize"
)

// WriteTable prints the report for people: one row a check.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDURATION\tDETAIL")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Result, c.Duration.Round(time.Millisecond), sanitize.Text(c.Detail))
	}
	pass, fail, skip := r.counts()
	verdict := "PASSED"
	if !r.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(tw, "\nsmoke %s: %d passed, %d failed, %d skipped in %s\n", verdict, pass, fail, skip, r.Duration.Round(time.Millisecond))
	return tw.Flush()
}

func (r Report) counts() (pass, fail, skip int) {
	for _, c := range r.Checks {
		switch c.Result {
		case Pass:
			pass++
		case Fail:
			fail++
		default:
			skip++
		}
	}
	return
}

// jsonReport is the report's JSON: durations in seconds, as numbers, like
// every duration the codrive command prints as JSON.
type jsonReport struct {
	Passed   bool        `json:"passed"`
	ExitCode int         `json:"exitCode"`
	Started  time.Time   `json:"started"`
	Seconds  float64     `json:"seconds"`
	Checks   []jsonCheck `json:"checks"`
}

type jsonCheck struct {
	Name    string  `json:"name"`
	Result  string  `json:"result"`
	Seconds float64 `json:"seconds"`
	Detail  string  `json:"detail"`
}

func secondsOf(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// WriteJSON writes the report as one JSON document.
func (r Report) WriteJSON(w io.Writer) error {
	out := jsonReport{Passed: r.Passed, ExitCode: r.ExitCode(), Started: r.Started, Seconds: secondsOf(r.Duration), Checks: []jsonCheck{}}
	for _, c := range r.Checks {
		out.Checks = append(out.Checks, jsonCheck{Name: c.Name, Result: c.Result, Seconds: secondsOf(c.Duration), Detail: c.Detail})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Hostname  string      `xml:"hostname,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the report as JUnit XML, the format CI systems render:
// a check that could not finish in its time is an error, one that found
// something wrong a failure.
func (r Report) WriteJUnit(w io.Writer) error {
	_, _, skip := r.counts()
	host, _ := os.Hostname()
	suite := junitSuite{
		Name: "codrive smoke", Tests: len(r.Checks), Skipped: skip, Time: seconds(r.Duration),
		// JUnit's timestamp is ISO 8601 without a zone: UTC.
		Timestamp: r.Started.UTC().Format("2006-01-02T15:04:05"), Hostname: host,
	}
	for _, c := range r.Checks {
		jc := junitCase{Name: c.Name, Classname: "codrive.smoke", Time: seconds(c.Duration)}
		switch {
		case c.Result == Fail && c.Error:
			suite.Errors++
			jc.Error = &junitMessage{Message: c.Detail, Body: c.Detail}
		case c.Result == Fail:
			suite.Failures++
			jc.Failure = &junitMessage{Message: c.Detail, Body: c.Detail}
		case c.Result == Skip:
			jc.Skipped = &junitMessage{Message: c.Detail}
		default:
			jc.SystemOut = c.Detail
		}
		suite.Cases = append(suite.Cases, jc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{suite}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
