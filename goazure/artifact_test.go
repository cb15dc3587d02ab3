package goazure

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// site lays out an app folder: _target holding the running binary and other versions.
func site(t *testing.T) (appDir, running string) {
	t.Helper()
	appDir = tempDir(t)
	target := filepath.Join(appDir, TargetDirName)
	if err := os.MkdirAll(filepath.Join(target, "site-bbbbbbbbbb"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"site-aaaaaaaaaa.exe", "site-bbbbbbbbbb.exe", "with space.exe"} {
		if err := os.WriteFile(filepath.Join(target, name), []byte("MZ"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return appDir, filepath.Join(target, "site-aaaaaaaaaa.exe")
}

// artifactTable is testdata/artifact-contents.json: contents of _artifact.txt and what each one
// starts. test/wine.test.ts runs the real go-azure.bat under Wine against the same table.
type artifactTable struct {
	Files []string `json:"files"`
	Cases []struct {
		Name    string  `json:"name"`
		Content string  `json:"content"`
		Starts  *string `json:"starts"`
	} `json:"cases"`
}

func loadArtifactTable(t *testing.T) artifactTable {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "artifact-contents.json"))
	if err != nil {
		t.Fatal(err)
	}
	var table artifactTable
	if err := json.Unmarshal(b, &table); err != nil {
		t.Fatalf("testdata/artifact-contents.json: %v", err)
	}
	if len(table.Cases) == 0 {
		t.Fatal("testdata/artifact-contents.json has no cases")
	}
	return table
}

// TestArtifactContents runs the shared table: a content starts a hand-over exactly when the
// table says go-azure.bat starts a binary, and to that binary. Every file the invalid contents
// name exists, so that they are refused by the rule, not for a missing file.
func TestArtifactContents(t *testing.T) {
	windowsRule(t)
	table := loadArtifactTable(t)
	appDir, running := site(t)
	for _, f := range table.Files {
		p := filepath.Join(appDir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("MZ"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(appDir, ArtifactFileName)
	for _, c := range table.Cases {
		t.Run(c.Name, func(t *testing.T) {
			got, err := nextArtifact([]byte(c.Content), file, running)
			if c.Starts == nil {
				if err == nil {
					t.Fatalf("nextArtifact(%q) = %q, nil; want no hand-over", c.Content, got)
				}
				return
			}
			want := filepath.Join(appDir, TargetDirName, *c.Starts)
			if err != nil || got != want {
				t.Fatalf("nextArtifact(%q) = %q, %v; want %q", c.Content, got, err, want)
			}
		})
	}
}

// windowsRule makes the test check the rule as it is on Windows, where go-azure.bat applies it.
func windowsRule(t *testing.T) {
	saved := exeRequired
	exeRequired = true
	t.Cleanup(func() { exeRequired = saved })
}

func TestParseArtifactReasons(t *testing.T) {
	windowsRule(t)
	cases := []struct{ content, reason string }{
		{"", "is empty"},
		{"\r\n\r\n", "is empty"},
		{"_target\\a.exe\r\n\r\n", "4 line-break characters"},
		{strings.Repeat(" ", 250) + "_target\\a.exe", "at most 256"},
		{"_target\\a b.exe", `the character " "`},
		{"\ufeff_target\\a.exe", `the character "\xef"`},
		{"_target\\..\\evil.exe", "in a folder under _target"},
		{"other\\a.exe", "does not start with _target"},
		{"_target\\a.com", "does not end in .exe"},
		{"_target\\a.EXE", "does not end in .exe"},
		{"_TARGET\\a.exe", "does not start with _target"},
		{"_target\\.exe", "no name before .exe"},
		{"_target\\.a.exe", "starting with '.'"},
		{"_target\\" + strings.Repeat("a", MaxArtifactNameLength+1) + ".exe", "at most 100"},
	}
	for _, c := range cases {
		if _, err := ParseArtifact([]byte(c.content)); err == nil || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("ParseArtifact(%q) = %v; want an error containing %q", c.content, err, c.reason)
		}
	}
	if got, err := ParseArtifact([]byte("_target\\" + strings.Repeat("a", MaxArtifactNameLength) + ".exe\r\n")); err != nil || len(got) != MaxArtifactNameLength+4 {
		t.Errorf("a name of the longest length: %q, %v", got, err)
	}
}

// TestArtifactNamesOfTheDeploy checks that names the deploy gives a binary,
// <prefix>-<commit10>.exe with a prefix of at most 40 characters from a-z, 0-9, '.', '_', '-'
// (src/artifact/name.ts), are inside the rule. test/goazure.test.ts runs it with GOAZURE_DEPLOY_NAMES
// naming a file of names the action's own namer made, one a line.
func TestArtifactNamesOfTheDeploy(t *testing.T) {
	windowsRule(t)
	names := []string{"site-0123456789.exe", "a-0000000000.exe", "my.app_v2-abcdef0123.exe", strings.Repeat("x", 40) + "-0123456789.exe"}
	if file := os.Getenv("GOAZURE_DEPLOY_NAMES"); file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		names = strings.Fields(string(b))
		t.Logf("%d names from %s", len(names), file)
	}
	for _, name := range names {
		got, err := ParseArtifact([]byte("_target\\" + name + "\r\n"))
		if err != nil || got != name {
			t.Errorf("ParseArtifact(_target\\%s) = %q, %v", name, got, err)
		}
	}
}

// TestNonWindowsNames: on another system the action names a build without .exe, and the sandbox
// runs such builds; the rest of the rule holds there too.
func TestNonWindowsNames(t *testing.T) {
	saved := exeRequired
	exeRequired = false
	t.Cleanup(func() { exeRequired = saved })
	if got, err := ParseArtifact([]byte("_target\\site-0123456789\r\n")); err != nil || got != "site-0123456789" {
		t.Errorf("a name without .exe: %q, %v", got, err)
	}
	if got, err := ParseArtifact([]byte("_target\\site-0123456789.exe")); err != nil || got != "site-0123456789.exe" {
		t.Errorf("a name with .exe: %q, %v", got, err)
	}
	for _, content := range []string{"_target\\.hidden", "_target\\..\\evil", "_target\\a b", "evil", "_target\\" + strings.Repeat("a", MaxArtifactNameLength+1)} {
		if got, err := ParseArtifact([]byte(content)); err == nil {
			t.Errorf("ParseArtifact(%q) = %q; want an error", content, got)
		}
	}
}

func TestNextArtifactNamesTheRunningBinary(t *testing.T) {
	appDir, running := site(t)
	file := filepath.Join(appDir, ArtifactFileName)
	for _, content := range []string{"_target\\site-aaaaaaaaaa.exe\r\n", "_target\\SITE-AAAAAAAAAA.exe\r\n"} {
		if got, err := nextArtifact([]byte(content), file, running); err != nil || got != "" {
			t.Errorf("nextArtifact(%q) = %q, %v; want the running binary (no hand-over, no error)", content, got, err)
		}
	}
	// An asset folder named like a binary is not a binary.
	if err := os.MkdirAll(filepath.Join(appDir, TargetDirName, "dir.exe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := nextArtifact([]byte("_target\\dir.exe"), file, running); err == nil || !strings.Contains(err.Error(), "not a file") {
		t.Errorf("a folder: %v, want not a file", err)
	}
}

func TestFindArtifactFile(t *testing.T) {
	appDir, running := site(t)
	home := tempDir(t)
	homeFile := filepath.Join(home, "site", "wwwroot", ArtifactFileName)

	if got := findArtifactFile("/x/_artifact.txt", running, home); got != "/x/_artifact.txt" {
		t.Errorf("an override: got %q", got)
	}
	if got, want := findArtifactFile("", running, home), filepath.Join(appDir, ArtifactFileName); got != want {
		t.Errorf("a binary in _target: got %q, want %q", got, want)
	}
	outside := filepath.Join(tempDir(t), "app")
	if got := findArtifactFile("", outside, home); got != "" {
		t.Errorf("a binary outside _target, no file under HOME: got %q, want none", got)
	}
	if err := os.MkdirAll(filepath.Dir(homeFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(homeFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := findArtifactFile("", outside, home); got != homeFile {
		t.Errorf("a binary outside _target, a file under HOME: got %q, want %q", got, homeFile)
	}
	if got, want := findArtifactFile("", running, home), filepath.Join(appDir, ArtifactFileName); got != want {
		t.Errorf("the binary's own site comes before HOME: got %q, want %q", got, want)
	}
}

func TestAppDirOf(t *testing.T) {
	appDir, running := site(t)
	if got := appDirOf(running); got != appDir {
		t.Errorf("appDirOf(%q) = %q, want %q", running, got, appDir)
	}
	if got := appDirOf(filepath.Join(appDir, "app.exe")); got != "" {
		t.Errorf("a binary outside _target: got %q, want none", got)
	}
}

func TestListenAddr(t *testing.T) {
	cases := []struct {
		name     string
		opt      int
		srvAddr  string
		platform string
		args     []string
		want     string
	}{
		{"the platform's port wins, on loopback", 9000, "0.0.0.0:7000", "12345", []string{"-port", "8000"}, "127.0.0.1:12345"},
		{"WithPort", 9000, "", "", []string{"-port", "8000"}, "127.0.0.1:9000"},
		{"-port N", -1, "", "", []string{"-port", "8000"}, "127.0.0.1:8000"},
		{"--port=N", -1, "", "", []string{"-v", "--port=8001"}, "127.0.0.1:8001"},
		{"a port that is not a number is ignored", -1, "", "junk", []string{"-port", "x"}, "127.0.0.1:8080"},
		{"srv.Addr", -1, "0.0.0.0:7000", "", nil, "0.0.0.0:7000"},
		{"srv.Addr's host with WithPort", 0, "0.0.0.0:7000", "", nil, "0.0.0.0:0"},
		{"the default", -1, "", "", []string{"12345"}, "127.0.0.1:8080"},
		{"srv.Addr \":8080\" is every interface, as in net/http", -1, ":8080", "", nil, ":8080"},
		{"srv.Addr's empty host with -port", -1, ":7000", "", []string{"-port", "8000"}, ":8000"},
		{"on the platform, srv.Addr's host is not used", -1, ":7000", "12345", nil, "127.0.0.1:12345"},
	}
	for _, c := range cases {
		if got := listenAddr(c.opt, c.srvAddr, c.platform, c.args); got != c.want {
			t.Errorf("%s: listenAddr = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestAppDirAndAssetDir(t *testing.T) {
	appDir, running := site(t)
	if got := appDirFor(running); got != appDir {
		t.Errorf("appDirFor(%q) = %q, want %q", running, got, appDir)
	}
	if got, want := assetDirFor(running), filepath.Join(appDir, TargetDirName, "site-aaaaaaaaaa"); got != want {
		t.Errorf("assetDirFor(%q) = %q, want %q", running, got, want)
	}
	dev := filepath.Join(tempDir(t), "app")
	if got := appDirFor(dev); got != filepath.Dir(dev) {
		t.Errorf("outside _target, appDirFor = %q, want the binary's folder", got)
	}
	if got := assetDirFor(dev); got != filepath.Dir(dev) {
		t.Errorf("outside _target, assetDirFor = %q, want the binary's folder", got)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	goRun := filepath.Join(os.TempDir(), "go-build1234567", "b001", "exe", "app")
	if got := assetDirFor(goRun); got != wd {
		t.Errorf("under go run, assetDirFor(%q) = %q, want the working directory %q", goRun, got, wd)
	}
	if got := appDirFor(goRun); got != wd {
		t.Errorf("under go run, appDirFor(%q) = %q, want the working directory %q", goRun, got, wd)
	}
	// From Go 1.24 on, a second "go run" of the same program starts the binary the first one left
	// in the build cache ($GOCACHE/<2 hex>/<hash>-d/<name>).
	cached := filepath.Join(tempDir(t), "go-build", "05", "05c2f954ac1f7ccb35b16fb380bb17164c22f8ce4bfb27fcac04e240b44fd9f7-d", "app")
	if got := assetDirFor(cached); got != wd {
		t.Errorf("under a cached go run, assetDirFor(%q) = %q, want the working directory %q", cached, got, wd)
	}
	notCached := filepath.Join(tempDir(t), "05", "release-d", "app")
	if got := assetDirFor(notCached); got != filepath.Dir(notCached) {
		t.Errorf("assetDirFor(%q) = %q, want the binary's folder", notCached, got)
	}
}

// A real "go run" of a program that prints AssetDir: the working directory, not the build folder.
func TestAssetDirUnderGoRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(goBin); err != nil {
		// A test binary built for another system (windows/amd64 under Wine) has no Go beside it.
		t.Skipf("no go command at %s: %v", goBin, err)
	}
	module, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	app := tempDir(t)
	files := map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.22\n\nrequire github.com/go-azure-deploy/go-azure-deploy/goazure v0.0.0\n\nreplace github.com/go-azure-deploy/go-azure-deploy/goazure => " + module + "\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/go-azure-deploy/go-azure-deploy/goazure\"\n)\n\nfunc main() { fmt.Print(goazure.AssetDir()) }\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(app, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Twice: from Go 1.24 on, the second run starts the binary the first left in the build cache.
	for run := 1; run <= 2; run++ {
		cmd := exec.Command(goBin, "run", ".")
		cmd.Dir = app
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go run: %v\n%s", err, out)
		}
		want, _ := filepath.EvalSymlinks(app)
		got, _ := filepath.EvalSymlinks(string(out))
		if got != want {
			t.Errorf("AssetDir under go run (run %d) = %q, want the working directory %q", run, out, app)
		}
	}
}
