package smoke

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteTable prints the report for people: one row a check.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDURATION\tDETAIL")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Result, c.Duration.Round(time.Millisecond), c.Detail)
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

// WriteJSON writes the report as one JSON document.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the report as JUnit XML, the format CI systems render.
func (r Report) WriteJUnit(w io.Writer) error {
	_, fail, skip := r.counts()
	suite := junitSuite{Name: "codrive smoke", Tests: len(r.Checks), Failures: fail, Skipped: skip, Time: seconds(r.Duration)}
	for _, c := range r.Checks {
		jc := junitCase{Name: c.Name, Classname: "codrive.smoke", Time: seconds(c.Duration)}
		switch c.Result {
		case Fail:
			jc.Failure = &junitMessage{Message: c.Detail, Body: c.Detail}
		case Skip:
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
