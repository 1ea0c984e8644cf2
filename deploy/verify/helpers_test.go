package verify

import (
	"fmt"
	"path/filepath"
	"testing"
)

// repoRoot is the repository's top folder (tests run in deploy/verify).
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// fakeT records errors instead of failing, to prove that a check fails.
type fakeT struct {
	testing.TB
	errors string
}

func (f *fakeT) wrap(t *testing.T) *fakeT { f.TB = t; return f }
func (f *fakeT) Errorf(format string, args ...any) {
	f.errors += fmt.Sprintf(format, args...) + "\n"
}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.errors += fmt.Sprintf(format, args...) + "\n"
	panic(f)
}
func (f *fakeT) Helper() {}
