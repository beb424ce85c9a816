package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"
)

// chromiumPath is where Debian's chromium package puts the browser (CI: apt-get install -y
// chromium). The browser tests skip when it is absent.
const chromiumPath = "/usr/bin/chromium"

// stepTimeout bounds one browser step: a navigation, a click, a read.
const stepTimeout = 15 * time.Second

// shared is the one headless Chromium of this test binary, started by the first test that
// asks for a tab and closed by TestMain.
var shared struct {
	once   sync.Once
	ctx    context.Context // a chromedp context that has run once: its browser is up
	cancel func()
	err    error
}

func TestMain(m *testing.M) {
	// The UI's gin engine would otherwise print its debug banner for every demo started.
	gin.SetMode(gin.TestMode)
	code := m.Run()
	if shared.cancel != nil {
		shared.cancel()
	}
	os.Exit(code)
}

func startBrowser() {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // CI containers run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	shared.cancel = func() {
		cancelBrowser()
		cancelAlloc()
	}
	// The first Run starts the browser and binds it to bctx for good, so its ctx has no
	// deadline: a timeout here would kill the browser when it expired.
	if err := chromedp.Do(bctx); err != nil {
		shared.err = err
		return
	}
	shared.ctx = bctx
}

// requireChromium skips the test when Chromium is not installed. Tests call it first, before
// they spend seconds starting a demo.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("skipping the browser test: no Chromium at %s (install it with apt-get install -y chromium): %v", chromiumPath, err)
	}
}

// newTab opens a tab of the shared browser for this test and closes it at the end. Steps
// get their deadlines from contexts derived from the tab (see run).
func newTab(t *testing.T) context.Context {
	t.Helper()
	requireChromium(t)
	shared.once.Do(startBrowser)
	if shared.err != nil {
		t.Fatalf("start Chromium: %v", shared.err)
	}
	// Its own browser context: cookies (the UI's CSRF cookie) and connections are not
	// shared with the tabs of other tests, which run in parallel against other demos.
	tab, cancel := chromedp.NewContext(shared.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// Opening the tab is its first Run: no deadline on it either.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return tab
}

// run runs one browser action within stepTimeout and returns its value.
func run[T any](t *testing.T, tab context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// submit clicks a form's button and waits for the page the form leads to, which must
// answer 200.
func submit(t *testing.T, tab context.Context, button chromedp.CSS) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(button, chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("click %s: %v", button, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("click %s: the page after the form answered %d %s (%s)", button, resp.Status, resp.StatusText, resp.URL)
	}
}

// open navigates the tab to a page of the demo and waits until sel is visible.
func open(t *testing.T, tab context.Context, url string, sel chromedp.CSS) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("open %s: %d %s", url, resp.Status, resp.StatusText)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(sel)); err != nil {
		t.Fatalf("open %s: wait for %s: %v", url, sel, err)
	}
}

// screenshot saves the whole page as testout/browser/<test name>.png at the repository root.
func screenshot(t *testing.T, tab context.Context) {
	t.Helper()
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the test does not run in cmd/sluice, so the repository root is unknown: %v", err)
	}
	dir := filepath.Join(root, "testout", "browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png := run(t, tab, "full-page screenshot", chromedp.FullScreenshot(100)) // 100 = PNG
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("the screenshot is not a PNG (%d bytes)", len(png))
	}
	path := filepath.Join(dir, filepath.Base(t.Name())+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// demoServer is `sluice demo` running in this process, serving its UI on loopback.
type demoServer struct {
	URL     string
	started time.Time // when runMain was called
	ready   time.Time // when /healthz first answered
	out     *syncBuffer
	cancel  context.CancelFunc
	done    chan int // runMain's exit code
	stopped sync.Once
}

// startDemo runs `sluice demo --dir dir` on a free port and waits until /healthz answers.
// The demo is stopped at the end of the test unless stopDemo did it before.
func startDemo(t *testing.T, dir string) *demoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &demoServer{URL: "http://" + addr, started: time.Now(), out: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		d.done <- runMain(ctx, []string{"demo", "--dir", dir, "--addr", addr}, cmdIO{stdout: d.out, stderr: d.out, env: noEnv})
	}()
	t.Cleanup(func() { d.stop(t) })

	// Readiness: the demo runs the five workflows (a few seconds against the simulated
	// Jira's rate limit) before it listens.
	deadline := time.Now().Add(45 * time.Second)
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		select {
		case code := <-d.done:
			d.done <- code
			t.Fatalf("sluice demo exited with %d before serving:\n%s", code, d.out)
		case <-poll.C:
		}
		if ok, err := healthy(t.Context(), d.URL); ok {
			d.ready = time.Now()
			return d
		} else if time.Now().After(deadline) {
			t.Fatalf("sluice demo did not answer /healthz within 45s (last: %v):\n%s", err, d.out)
		}
		poll.Reset(100 * time.Millisecond)
	}
}

// healthy says whether GET /healthz answers 200.
func healthy(ctx context.Context, base string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("healthz: %s", resp.Status)
	}
	return true, nil
}

// stop cancels the demo's context, as Ctrl-C does, and waits for a clean exit.
func (d *demoServer) stop(t *testing.T) {
	t.Helper()
	d.stopped.Do(func() {
		d.cancel()
		wait := time.NewTimer(20 * time.Second)
		defer wait.Stop()
		select {
		case code := <-d.done:
			if code != exitOK {
				t.Errorf("sluice demo exited with %d after its context was cancelled, want %d:\n%s", code, exitOK, d.out.String())
			}
		case <-wait.C:
			t.Errorf("sluice demo did not shut down within 20s of its context being cancelled:\n%s", d.out)
		}
	})
}

// get fetches a path of the demo with net/http and returns the answer's body; it fails the
// test on any status but 200.
func (d *demoServer) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
	}
	return resp, body
}

// syncBuffer collects the demo's output, which several goroutines write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// pollUntil calls check every interval until it reports done, and fails the test when
// limit passes first; check's note (the state it saw) goes into the failure message.
func pollUntil(t *testing.T, what string, limit, every time.Duration, check func() (done bool, note string)) {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTimer(0)
	defer tick.Stop()
	note := "not checked yet"
	for {
		select {
		case <-deadline.C:
			t.Fatalf("%s: not within %s; last seen: %s", what, limit, note)
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-tick.C:
		}
		var done bool
		if done, note = check(); done {
			return
		}
		tick.Reset(every)
	}
}

// waitUntil waits for the wall clock to reach at.
func waitUntil(t *testing.T, at time.Time) {
	t.Helper()
	wait := time.NewTimer(time.Until(at))
	defer wait.Stop()
	select {
	case <-wait.C:
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	}
}
