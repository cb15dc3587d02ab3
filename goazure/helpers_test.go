package goazure

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// tempDir is t.TempDir, except that its clean-up also works under Wine, where the tests run as a
// windows/amd64 binary too: Wine 8 lacks the call os.RemoveAll makes on Windows ("Invalid
// function"), so what it leaves is removed one entry at a time, deepest first.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "goazure-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.RemoveAll(dir) == nil {
			return
		}
		var paths []string
		_ = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
			if err == nil {
				paths = append(paths, p)
			}
			return nil
		})
		sort.Sort(sort.Reverse(sort.StringSlice(paths)))
		for _, p := range paths {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				t.Logf("cleaning up: %v", err)
			}
		}
	})
	return dir
}

// removeFile removes a file another goroutine may be reading: Windows refuses to delete a file
// that is open (a sharing violation), so it tries again for up to a second.
func removeFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		err := os.Remove(path)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
