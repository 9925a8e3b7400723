package codrive

import (
	"bytes"
	"flag"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The package's shape as a library: what it exports, that all of it is
// documented, and what it links.

var updateAPI = flag.Bool("update", false, "rewrite testdata/golden/codrive-api.txt")

// exportedAPI lists every exported name of the package (methods as
// Type.Method, struct fields as Type.Field), and those without a doc
// comment.
func exportedAPI(t *testing.T) (names, undocumented []string) {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := pkgs["codrive"]
	if !ok || len(pkgs) != 1 {
		t.Fatalf("want package codrive alone, got %v", slices.Collect(maps.Keys(pkgs)))
	}
	d := doc.New(p, "github.com/codrive/codrive/codrive", 0)
	add := func(name string, documented bool) {
		names = append(names, name)
		if !documented {
			undocumented = append(undocumented, name)
		}
	}
	values := func(kind string, vs []*doc.Value) {
		for _, v := range vs {
			for _, s := range v.Decl.Specs {
				vs := s.(*ast.ValueSpec)
				for _, n := range vs.Names {
					if n.IsExported() {
						add(kind+" "+n.Name, v.Doc != "" || vs.Doc != nil || vs.Comment != nil)
					}
				}
			}
		}
	}
	values("const", d.Consts)
	values("var", d.Vars)
	for _, f := range d.Funcs {
		add("func "+f.Name, f.Doc != "")
	}
	for _, ty := range d.Types {
		add("type "+ty.Name, ty.Doc != "")
		values("const", ty.Consts)
		values("var", ty.Vars)
		for _, f := range ty.Funcs {
			add("func "+f.Name, f.Doc != "")
		}
		for _, m := range ty.Methods {
			add("method "+ty.Name+"."+m.Name, m.Doc != "")
		}
		for _, s := range ty.Decl.Specs {
			st, ok := s.(*ast.TypeSpec).Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, f := range st.Fields.List {
				for _, n := range f.Names {
					if n.IsExported() {
						add("field "+ty.Name+"."+n.Name, f.Doc != nil || f.Comment != nil)
					}
				}
				if len(f.Names) == 0 {
					t.Errorf("type %s embeds %v: embedding exports the embedded type's methods; forward them instead", ty.Name, f.Type)
				}
			}
		}
	}
	slices.Sort(names)
	return names, undocumented
}

// Every exported name says why it exists.
func TestExportedAPIIsDocumented(t *testing.T) {
	_, undocumented := exportedAPI(t)
	if len(undocumented) > 0 {
		t.Fatalf("exported without a doc comment:\n  %s", strings.Join(undocumented, "\n  "))
	}
}

// The exported API is pinned in a golden file, so that every change to it
// shows in review (and in CHANGELOG.md). After a deliberate change:
// go test ./codrive -run TestExportedAPI -update.
func TestExportedAPI(t *testing.T) {
	names, _ := exportedAPI(t)
	got := []byte(strings.Join(names, "\n") + "\n")
	path := filepath.Join("..", "testdata", "golden", "codrive-api.txt")
	if *updateAPI {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file (go test ./codrive -run TestExportedAPI -update writes it): %v", err)
	}
	if !bytes.Equal(got, want) {
		var added, removed []string
		wantNames := strings.Split(strings.TrimSpace(string(want)), "\n")
		for _, n := range names {
			if !slices.Contains(wantNames, n) {
				added = append(added, n)
			}
		}
		for _, n := range wantNames {
			if !slices.Contains(names, n) {
				removed = append(removed, n)
			}
		}
		t.Fatalf("the exported API changed (update the golden file and CHANGELOG.md if meant):\nadded:   %v\nremoved: %v", added, removed)
	}
}

// A program that uses codrive with chromedp links neither Playwright nor
// the command's own packages.
func TestLibraryDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/codrive/codrive/codrive") {
		t.Fatalf("go list -deps did not list the package itself:\n%s", out)
	}
	for _, forbidden := range []string{
		"github.com/playwright-community/playwright-go", // codrive/codrivepw has it
		"github.com/urfave/cli/v2",
		"github.com/charmbracelet/bubbletea",
		"github.com/codrive/codrive/tui",
		"github.com/codrive/codrive/internal/oneshot",
		"github.com/codrive/codrive/internal/exitcode",
		"github.com/codrive/codrive/internal/eventfmt",
	} {
		for _, d := range deps {
			if d == forbidden || strings.HasPrefix(d, forbidden+"/") {
				t.Errorf("codrive depends on %s", d)
			}
		}
	}
	if t.Failed() {
		t.Logf("go list -deps ./codrive:\n%s", out)
	}
}
