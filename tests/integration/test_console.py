"""The memory console (issue 16): the page at "/" and its JSON, over HTTP, and in a real headless
browser (Debian's chromium) driven over the Chrome DevTools Protocol (python3-websocket).

In the browser: the page loads with no console error, no exception, no failed request and no
Content-Security-Policy report; its used memory and subsystem figures agree with INFO memory;
the flame graph is drawn with the profiler on and zooms on a real mouse click; the page follows
writes; with a token it takes it from the #token= fragment (and drops the fragment) and its
action buttons work (or say why they are off). Screenshots at 1280x900 and 390x844 go to
<build>/test-artifacts/console/.
"""
import base64
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from helpers import Resp, info_fields, wait_until

CHROMIUM = shutil.which("chromium")
try:
    import websocket  # python3-websocket
except ImportError:  # pragma: no cover - .ci/run installs it
    websocket = None

needs_browser = pytest.mark.skipif(CHROMIUM is None or websocket is None,
                                   reason="needs chromium and python3-websocket (.ci/run installs them)")

HERE = os.path.dirname(os.path.abspath(__file__))
CONSOLE_DIR = os.path.join(HERE, "..", "..", "src", "metrics", "console")
BUDGET = 100 * 1024
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
MiB = 1024 * 1024


def artifacts_dir():
    server = os.environ.get("MEMKV_SERVER", os.path.join(HERE, "../../build/src/memkv-server"))
    d = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(server))), "test-artifacts",
                     "console")
    os.makedirs(d, exist_ok=True)
    return d


def request(port, path, method="GET", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def fill(c, n=3000):
    """Strings, hashes and lists under a few prefixes, and one big key."""
    cmds = []
    for i in range(n):
        cmds.append(("SET", "user:%d:session" % i, "x" * 200))
        if i % 3 == 0:
            cmds.append(("HSET", "cart:%d" % i, "item", "y" * 100, "qty", "3"))
        if i % 10 == 0:
            cmds.append(("RPUSH", "queue:%d" % (i % 7), "z" * 300))
    cmds.append(("SET", "big:blob", "b" * 300000))
    cmds.append(("EXPIRE", "user:1:session", "600"))
    c.pipeline(cmds)


# ---- over HTTP ----

def test_page_assets_and_headers(server):
    port = server.metrics_port
    total = 0
    for path, ctype in (("/", "text/html; charset=utf-8"), ("/console.css", "text/css; charset=utf-8"),
                        ("/console.js", "text/javascript; charset=utf-8")):
        status, hdrs, body = request(port, path)
        assert status == 200, path
        assert hdrs["content-type"] == ctype, (path, hdrs)
        assert hdrs["cache-control"] == "no-store" and hdrs["x-content-type-options"] == "nosniff"
        total += len(body)
    status, hdrs, body = request(port, "/")
    assert hdrs["content-security-policy"] == CSP
    assert hdrs["x-frame-options"] == "DENY" and hdrs["referrer-policy"] == "no-referrer"
    # Nothing from elsewhere, nothing inline that the policy would block.
    assert not re.search(rb"https?://", body), "external reference in the page"
    assert not re.search(rb"<script>|<style|\son[a-z]+=|style=", body), "inline script/style/handler"
    js = request(port, "/console.js")[2]
    assert not re.search(rb"https?://(?!www\.w3\.org/2000/svg)", js), "external URL in the script"
    assert not re.search(rb"\beval\(|new Function|innerHTML", js)
    # The budget, served and in the tree.
    assert total < BUDGET, total
    src = sum(os.path.getsize(os.path.join(CONSOLE_DIR, f)) for f in os.listdir(CONSOLE_DIR))
    assert src < BUDGET and src == total, (src, total)
    # Assets are GET/HEAD only.
    status, hdrs, _ = request(port, "/", method="POST")
    assert status == 405 and hdrs["allow"] == "GET, HEAD"


def test_console_json(server):
    c = Resp(server)
    fill(c, 300)
    port = server.metrics_port
    wait_until(lambda: json.loads(request(port, "/debug/console")[2])["keyspace"]["top_keys"])
    status, hdrs, body = request(port, "/debug/console")
    assert status == 200 and hdrs["content-type"] == "application/json"
    d = json.loads(body)
    ks = d["keyspace"]
    assert ks["enabled"] is True
    assert ks["top_keys"][0]["key"] == "big:blob" and ks["top_keys"][0]["type"] == "string"
    assert ks["top_keys"][0]["length"] == 300000
    by_type = {t["type"]: t for t in ks["types"]}
    assert by_type["string"]["keys"] == 301 and by_type["hash"]["keys"] == 100
    assert {p["prefix"] for p in ks["prefixes"]} >= {"user:#:session", "cart:#", "queue:#"}
    ttl = {t["bucket"]: t["keys"] for t in ks["ttl"]}
    assert ttl["lt_1h"] == 1
    assert d["actions"] == {"enabled": False, "token": False,
                            "why_disabled": "actions are switched off: CONFIG SET metrics-console-actions yes"}
    # The client with the largest buffers: a client holding an unread reply.
    assert d["clients"]["connected"] >= 1
    status, _, body = request(port, "/debug/history")
    h = json.loads(body)
    assert h["fields"][:4] == ["t_ms", "used", "rss", "keys"] and "strings" in h["fields"]
    assert all(len(p) == len(h["fields"]) for p in h["points"])


def test_history_json_follows_points(server_factory):
    server = server_factory(["--memory-history-interval-ms", "100"])
    port = server.metrics_port
    wait_until(lambda: len(json.loads(request(port, "/debug/history")[2])["points"]) >= 3)
    pts = json.loads(request(port, "/debug/history")[2])["points"]
    since = pts[-2][0]
    newer = json.loads(request(port, "/debug/history?since=%d" % since)[2])["points"]
    assert newer and all(p[0] > since for p in newer)
    assert [p[0] for p in pts] == sorted(p[0] for p in pts)


def test_actions_need_token_and_option(server_factory):
    server = server_factory()
    port = server.metrics_port
    status, hdrs, body = request(port, "/debug/actions/purge")
    assert status == 405 and hdrs["allow"] == "POST", body
    status, _, body = request(port, "/debug/actions/purge", method="POST")
    assert status == 403 and b"token" in body
    server = server_factory(["--metrics-token", "t0k"])
    port = server.metrics_port
    auth = {"Authorization": "Bearer t0k"}
    assert request(port, "/debug/actions/purge", method="POST")[0] == 401
    status, _, body = request(port, "/debug/actions/purge", method="POST", headers=auth)
    assert status == 403 and b"metrics-console-actions" in body
    # Assets need no token (they hold no data); the data does.
    assert request(port, "/")[0] == 200 and request(port, "/console.js")[0] == 200
    assert request(port, "/debug/console")[0] == 401 and request(port, "/debug/history")[0] == 401
    c = Resp(server)
    assert c("CONFIG", "SET", "metrics-console-actions", "yes") == b"OK"
    port = int(dict(l.split("=", 1) for l in open(server.ready).read().split())["metrics_port"])
    wait_until(lambda: request(port, "/debug/console", headers=auth)[0] == 200)
    status, _, body = request(port, "/debug/actions/purge", method="POST", headers=auth)
    assert status == 200 and json.loads(body) == {"ok": True, "done": "purge"}
    assert request(port, "/debug/actions/nope", method="POST", headers=auth)[0] == 404
    if info_fields(c, "memory").get("mem_allocator", "").startswith("jemalloc"):
        status, _, body = request(port, "/debug/actions/profile-start", method="POST", headers=auth)
        assert status == 202, body
        wait_until(lambda: c("CONFIG", "GET", "memory-profiling-enabled")[1] == b"yes")
        status, _, body = request(port, "/debug/actions/snapshot", method="POST", headers=auth)
        assert status == 200, body
        request(port, "/debug/actions/profile-stop", method="POST", headers=auth)
        wait_until(lambda: c("CONFIG", "GET", "memory-profiling-enabled")[1] == b"no")


def test_profile_json(server_factory):
    server = server_factory(["--memory-profiling-enabled", "yes",
                            "--memory-profiling-sample-bytes", "4096"])
    c = Resp(server)
    if not info_fields(c, "memory").get("mem_allocator", "").startswith("jemalloc"):
        pytest.skip("heap profiling needs jemalloc")
    fill(c, 2000)
    status, hdrs, body = request(server.metrics_port, "/debug/pprof/heap?format=json")
    assert status == 200 and hdrs["content-type"] == "application/json"
    d = json.loads(body)
    root = d["root"]
    assert root[0] == "all" and root[1] == d["total_bytes"] > 0
    names = set()

    def walk(n):
        assert sum(k[1] for k in n[2]) <= n[1] + 1
        assert [k[1] for k in n[2]] == sorted((k[1] for k in n[2]), reverse=True)
        names.add(n[0])
        for k in n[2]:
            walk(k)
    walk(root)
    assert "main" in names and any(n.startswith("db_set") for n in names), sorted(names)[:20]


# ---- in the browser ----

class Browser:
    """A headless chromium and one page, over the DevTools protocol."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="memkv-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--remote-debugging-port=0",
             "--user-data-dir=" + self.dir, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        url = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                url = m.group(1)
                break
            if not line and self.proc.poll() is not None:
                break
        assert url, "chromium did not start"
        self.ws = websocket.create_connection(url, timeout=60)
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(domain + ".enable")

    def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            got = json.loads(self.ws.recv())
            if got.get("id") == self.next_id:
                if "error" in got:
                    raise AssertionError("%s: %s" % (method, got["error"]))
                return got.get("result", {})
            self.events.append(got)

    def send(self, method, params=None):
        return self.call(method, params, self.session)

    def eval(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise AssertionError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait(self, expr, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.eval(expr):
                return
            time.sleep(0.1)
        raise AssertionError("timed out waiting for " + expr)

    def viewport(self, width, height, mobile=False):
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def goto(self, url):
        self.send("Page.navigate", {"url": url})
        self.wait("document.readyState === 'complete'")

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def click(self, selector):
        """A real mouse click at the middle of the element."""
        box = self.eval("(() => { const e = document.querySelector(%s); e.scrollIntoView({block: 'center'});"
                        " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
                        % json.dumps(selector))
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1})

    def problems(self):
        """Console errors and warnings, exceptions, failed requests, CSP reports, HTTP errors."""
        self.eval("1")  # drain what arrived
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append(("console", p))
            elif m == "Runtime.exceptionThrown":
                out.append(("exception", p))
            elif m == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
                out.append(("log", p["entry"]))
            elif m == "Network.loadingFailed":
                out.append(("failed", p))
            elif m == "Network.responseReceived" and p["response"]["status"] >= 400:
                out.append(("status", p["response"]["url"], p["response"]["status"]))
        return out

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def browser():
    b = Browser()
    yield b
    b.close()


def page_figures(b):
    return b.eval("""(() => {
        const subs = {};
        for (const tr of document.querySelectorAll('#subsystems tbody tr[data-sub]'))
            subs[tr.dataset.sub] = Number(tr.dataset.bytes);
        return {used: Number(document.getElementById('used-memory').dataset.bytes),
                rss: Number(document.getElementById('rss').dataset.bytes),
                updates: Number(document.body.dataset.updates || 0), subs};
    })()""")


@needs_browser
def test_console_in_browser(server_factory, browser):
    server = server_factory(["--memory-history-interval-ms", "200", "--memory-profiling-enabled", "yes",
                            "--memory-profiling-sample-bytes", "4096"])
    c = Resp(server)
    jemalloc = info_fields(c, "memory").get("mem_allocator", "").startswith("jemalloc")
    fill(c)
    url = "http://127.0.0.1:%d/" % server.metrics_port
    browser.viewport(1280, 900)
    browser.goto(url)
    browser.wait("Number(document.body.dataset.updates || 0) >= 2")

    # The figures agree with INFO memory taken at about the same time (the key space does not
    # change meanwhile; what moves is the observers' own memory: http, buffers, other).
    fig = page_figures(browser)
    info = info_fields(c, "memory")
    used = int(info["used_memory"])
    assert abs(fig["used"] - used) <= max(MiB, used * 0.05), (fig["used"], used)
    for sub in ("strings", "hashes", "lists", "key_index"):
        assert fig["subs"].get(sub, 0) == int(info["memkv_subsystem_" + sub]), (sub, fig["subs"])
    assert abs(fig["rss"] - int(info["used_memory_rss"])) <= max(4 * MiB, 0.1 * fig["rss"])
    # Everything drawn: the bar, the history chart, the key space, the doctor.
    assert browser.eval("document.querySelectorAll('#rss-bar span').length") >= 2
    browser.wait("document.querySelectorAll('#history-chart polyline').length >= 2")
    assert browser.eval("document.querySelector('#top-keys tbody td').textContent") == "big:blob"
    assert browser.eval("document.querySelectorAll('#findings li').length") >= 1
    assert browser.eval("[...document.querySelectorAll('#prefixes td')].some(td => td.textContent === 'user:#:session')")

    if jemalloc:
        # The flame graph with the profiler on, and a click that zooms.
        browser.wait("Number(document.getElementById('flame').dataset.nodes || 0) > 5")
        assert browser.eval("document.getElementById('prof-state').textContent") == "sampling"
        # a frame below the root and its ancestors, wide enough to click
        target = browser.eval("""(() => {
            const gs = [...document.querySelectorAll('#flame g[data-i]')];
            const ok = gs.filter(g => !g.classList.contains('ancestor') &&
                                 Number(g.firstChild.getAttribute('y')) >= 36 &&
                                 Number(g.firstChild.getAttribute('width')) > 40 &&
                                 Number(g.firstChild.getAttribute('width')) < 1000);
            if (!ok.length) return null;
            ok[0].id = 'zoom-target';
            return ok[0].textContent;
        })()""")
        assert target, "no frame to click"
        before = browser.eval("document.getElementById('flame').dataset.zoom")
        browser.click("#zoom-target rect")
        browser.wait("document.getElementById('flame').dataset.zoom !== %s" % json.dumps(before))
        zoom = browser.eval("document.getElementById('flame').dataset.zoom")
        assert zoom and browser.eval("document.querySelectorAll('#flame g.ancestor').length") >= 1
        # hover says bytes and share; search highlights
        browser.eval("document.getElementById('flame-search').value = 'main'; "
                     "document.getElementById('flame-search').dispatchEvent(new Event('input'))")
        assert "matched" in browser.eval("document.getElementById('flame-info').textContent")
        browser.click("#flame-reset")
        browser.wait("document.getElementById('flame').dataset.zoom === ''")

    # It follows writes: a new biggest key shows up without a reload.
    c("SET", "huge:one", "h" * 600000)
    browser.wait("document.querySelector('#top-keys tbody td').textContent === 'huge:one'", timeout=20)
    used2 = int(info_fields(c, "memory")["used_memory"])
    browser.wait("Math.abs(Number(document.getElementById('used-memory').dataset.bytes) - %d) < %d"
                 % (used2, max(MiB, used2 // 20)), timeout=20)

    out = artifacts_dir()
    browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 1, "y": 1})
    browser.eval("window.scrollTo(0, 0); document.getElementById('tip').hidden = true")
    browser.screenshot(os.path.join(out, "console-1280x900.png"))
    browser.viewport(390, 844, mobile=True)
    # the resize handler redraws after 150 ms; a loaded host may take longer
    browser.wait("document.documentElement.scrollWidth <= 391", timeout=10)
    browser.screenshot(os.path.join(out, "console-390x844.png"))
    assert browser.problems() == []


@needs_browser
def test_console_with_token(server_factory, browser):
    server = server_factory(["--metrics-token", "s3cr3t-t0k", "--metrics-console-actions", "yes"])
    c = Resp(server)
    jemalloc = info_fields(c, "memory").get("mem_allocator", "").startswith("jemalloc")
    port = server.metrics_port
    browser.viewport(1280, 900)
    browser.goto("http://127.0.0.1:%d/#token=s3cr3t-t0k" % port)
    browser.wait("Number(document.body.dataset.updates || 0) >= 1")
    assert browser.eval("location.hash") == "", "the token stays in the address bar"
    assert browser.eval("document.getElementById('token-form').hidden") is True
    if jemalloc:
        assert browser.eval("document.getElementById('act-profile-start').disabled") is False
        browser.click("#act-profile-start")
        wait_until(lambda: c("CONFIG", "GET", "memory-profiling-enabled")[1] == b"yes")
        browser.wait("document.getElementById('prof-state').textContent === 'sampling'")
        browser.wait("document.getElementById('act-profile-stop').disabled === false")
        browser.click("#act-profile-stop")
        wait_until(lambda: c("CONFIG", "GET", "memory-profiling-enabled")[1] == b"no")
    browser.click("#act-purge")
    browser.wait("document.getElementById('actions-why').textContent === 'purge: done'")
    assert browser.problems() == []

    # A new tab without the token: the page asks for it, then works; the 401s it met are
    # the only problems.
    b2 = Browser()
    try:
        b2.viewport(1280, 900)
        b2.goto("http://127.0.0.1:%d/" % port)
        b2.wait("document.getElementById('token-form').hidden === false")
        b2.eval("document.getElementById('token-input').value = 's3cr3t-t0k'")
        b2.click("#token-form button")
        b2.wait("Number(document.body.dataset.updates || 0) >= 1")
        assert {p[0] for p in b2.problems()} <= {"status", "log"}
        assert all(p[2] == 401 for p in b2.problems() if p[0] == "status")
    finally:
        b2.close()

    # Actions switched off: the buttons say why.
    assert c("CONFIG", "SET", "metrics-console-actions", "no") == b"OK"
    port = int(dict(l.split("=", 1) for l in open(server.ready).read().split())["metrics_port"])
    browser.goto("about:blank")  # a new document, not a move within the same one
    browser.events.clear()
    browser.goto("http://127.0.0.1:%d/#token=s3cr3t-t0k" % port)
    browser.wait("Number(document.body.dataset.updates || 0) >= 1")
    assert browser.eval("document.getElementById('act-purge').disabled") is True
    assert "metrics-console-actions" in browser.eval("document.getElementById('act-purge').title")
    assert "metrics-console-actions" in browser.eval("document.getElementById('actions-why').textContent")
    assert browser.problems() == []
