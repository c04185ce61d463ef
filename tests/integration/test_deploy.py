"""dashboards/ and deploy/: static checks, and every expression proven against a real Prometheus
scraping a real memkv (issue 6; DESIGN.md, "Metrics").

- deploy/prometheus: promtool check config / check rules / test rules; the alert conventions
  (Memkv CamelCase names, severity, static summary, templated description, runbook_url to an
  existing section of docs/runbooks.md); every alert and severity fires in a unit test and every
  alert has a near miss that stays silent; every recording rule is unit-tested.
- dashboards: a lint (uid, schemaVersion, datasource variable and no __inputs, job/instance
  variables, units, descriptions, threshold lines on ratio panels, $__rate_interval in every
  rate/irate/increase, job/instance matchers on every selector) and a parse of every
  expression by promtool.
- deploy/systemd: systemd-analyze verify and systemd-analyze security --offline=yes under a
  threshold (memkv.service and memkv-exporter.service); deploy/k8s: PrometheusRule == the rule
  files, consistent labels and ports, the exporter's manifests and its relabelling config
  (promtool); deploy/memkv-exporter.conf is loaded by the real exporter;
  deploy/compose.yaml and the Grafana provisioning: structure and mounted paths.
- Live: memkv under load (SETs, maxmemory with evictions, the heap profiler on) scraped every
  second by Prometheus on loopback, which also evaluates the rule files; then every dashboard
  expression and every recording rule returns data, and every metric name the alert rules use
  exists. A missing metric name fails with the expression and the name.
"""
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import redis
import yaml

from exporter_harness import Exporter, RedisServer
from helpers import free_port

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
PROM = os.path.join(DEPLOY, "prometheus")
RECORDING = os.path.join(PROM, "recording_rules.yml")
ALERTS = os.path.join(PROM, "alert_rules.yml")
RULE_TESTS = sorted(os.path.join(PROM, "tests", f) for f in os.listdir(os.path.join(PROM, "tests"))
                    if f.endswith(".yml"))
DASHBOARDS = {
    "memkv-memory-overview": os.path.join(ROOT, "dashboards", "memkv-memory-overview.json"),
    "memkv-subsystems": os.path.join(ROOT, "dashboards", "memkv-subsystems.json"),
    "memkv-profiler": os.path.join(ROOT, "dashboards", "memkv-profiler.json"),
    "memkv-fleet": os.path.join(ROOT, "dashboards", "memkv-fleet.json"),
}
RUNBOOKS = os.path.join(ROOT, "docs", "runbooks.md")
UNIT = os.path.join(DEPLOY, "systemd", "memkv.service")
K8S = os.path.join(DEPLOY, "k8s")
COMPOSE = os.path.join(DEPLOY, "compose.yaml")
GRAFANA = os.path.join(DEPLOY, "grafana", "provisioning")
SERVER = os.environ.get("MEMKV_SERVER",
                        os.path.join(ROOT, "build", "src", "memkv-server"))
EXPORTER_UNIT = os.path.join(DEPLOY, "systemd", "memkv-exporter.service")
EXPORTER_CONF = os.path.join(DEPLOY, "memkv-exporter.conf")
# systemd-analyze security's overall exposure level (0 = locked down, 10 = unprotected) that
# the unit must stay under. systemd 252 takes --threshold in tenths.
SYSTEMD_EXPOSURE_MAX = 2.0

# Families only a jemalloc build exposes (collector.c): a libc build (the sanitizer build)
# leaves them out instead of inventing figures, so expressions over them are empty there.
JEMALLOC_ONLY = {
    "memkv_allocator_allocated_bytes", "memkv_allocator_active_bytes",
    "memkv_allocator_resident_bytes", "memkv_allocator_retained_bytes",
    "memkv_allocator_mapped_bytes", "memkv_allocator_metadata_bytes",
    "memkv_allocator_bin_free_bytes", "memkv_allocator_bin_used_bytes",
    "memkv_memory_arena_bytes", "memkv_profiling_sampled_bytes",
}

# Grafana variables as the live test substitutes them.
GRAFANA_VARS = {"$__rate_interval": "1m", "${job}": ".*", "$job": ".*", "${instance}": ".*",
                "$instance": ".*", "${type}": ".*", "$type": ".*"}


# Families only memkv-exporter serves (render.h): a memkv scraped directly has none, so the
# alert rules naming them are checked on the exporter path only.
EXPORTER_ONLY = {"memkv_up"}

# Behind memkv-exporter, a Redis cannot have these families: expressions over them are listed
# (not failed) on the exporter path. Every other expression must return data there too.
REDIS_NO_DATA = {
    "memkv_memory_subsystem_bytes": "memkv's own per-subsystem accounting (its allocation "
                                    "wrapper); Redis keeps no such breakdown",
    "memkv_profiling_active": "memkv's heap profiler; Redis has none",
    "memkv_profiling_available": "memkv's heap profiler; Redis has none",
    "memkv_profiling_capped": "memkv's heap profiler; Redis has none",
    "memkv_profiling_dumps_total": "memkv's heap profiler; Redis has none",
    "memkv_profiling_last_job_duration_seconds": "memkv's heap profiler; Redis has none",
    "memkv_profiling_memory_bytes": "memkv's heap profiler; Redis has none",
    "memkv_profiling_sample_bytes": "memkv's heap profiler; Redis has none",
    "memkv_profiling_sampled_bytes": "memkv's heap profiler; Redis has none",
    "memkv_profiling_snapshots_held": "memkv's heap profiler; Redis has none",
    "memkv_profiling_snapshots_total": "memkv's heap profiler; Redis has none",
    "memkv_memory_rss_baseline_bytes": "memkv measures the RSS of its empty self after start-up; "
                                       "INFO has no such field",
    "memkv_memory_arena_bytes": "the arenas memkv gives groups of its subsystems (keyspace, "
                                "clients, scripting); Redis allocates from jemalloc's default arenas",
    "memkv_keyspace_bytes": "memkv's key-space statistics (keyspace-stats); Redis 7.0 keeps no "
                            "bytes per type",
    "memkv_keyspace_ttl_bytes": "memkv's key-space statistics; Redis 7.0 has no TTL buckets",
    "memkv_keyspace_key_length_bucket": "memkv's key-space statistics; INFO keysizes came with "
                                        "Redis 8",
    "memkv_keyspace_prefix_bytes": "memkv's key-space statistics; Redis has no per-prefix "
                                   "figures (redis/redis#14605)",
    "memkv_keyspace_prefix_other_bytes": "memkv's key-space statistics; Redis has no per-prefix "
                                         "figures",
    "memkv_scripts_evicted_total": "INFO stats has evicted_scripts from Redis 7.4 (7.0 keeps "
                                   "every EVAL script, it never evicts)",
    "memkv_client_buffer_limit_disconnections_total": "INFO stats has no "
                                                      "client_{query,output}_buffer_limit_"
                                                      "disconnections before Redis 7.2 (Debian "
                                                      "12 ships 7.0)",
}

# The exporter under test (the lead wires it in tests/integration/CMakeLists.txt once
# exporter/ builds a memkv-exporter).
EXPORTER = os.environ.get("MEMKV_EXPORTER", "")


def exporter_or_skip():
    """The exporter binary. Without MEMKV_EXPORTER: skipped while the build has no exporter,
    a failure (saying what to set) once exporter/ builds one."""
    if EXPORTER:
        assert os.access(EXPORTER, os.X_OK), "MEMKV_EXPORTER=%s is not executable" % EXPORTER
        return EXPORTER
    built = os.path.join(os.path.dirname(os.path.abspath(SERVER)), "..", "exporter",
                         "memkv-exporter")
    if os.path.exists(built):
        pytest.fail("the build has memkv-exporter (%s) but MEMKV_EXPORTER is not set: set it in "
                    "tests/integration/CMakeLists.txt ($<TARGET_FILE:memkv-exporter>)" % built)
    pytest.skip("MEMKV_EXPORTER not set and no memkv-exporter in the build")


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def rule_groups():
    return load_yaml(RECORDING)["groups"] + load_yaml(ALERTS)["groups"]


def recording_rules():
    return [r for g in load_yaml(RECORDING)["groups"] for r in g["rules"]]


def alert_rules():
    return [r for g in load_yaml(ALERTS)["groups"] for r in g["rules"]]


def load_dashboard(name):
    with open(DASHBOARDS[name]) as f:
        return json.load(f)


def panels(dash):
    """Every panel, those inside (collapsed) rows too."""
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []) or []:
            yield q


def dashboard_targets():
    """(dashboard, panel title, expr) for every target of every dashboard."""
    out = []
    for name in DASHBOARDS:
        for p in panels(load_dashboard(name)):
            for t in p.get("targets", []) or []:
                if t.get("expr"):
                    out.append((name, p.get("title"), t["expr"]))
    return out


def substitute(expr):
    for k in sorted(GRAFANA_VARS, key=len, reverse=True):
        expr = expr.replace(k, GRAFANA_VARS[k])
    return expr


# ---- a small PromQL scanner ---------------------------------------------------------------
# Enough of PromQL's lexical structure to find every vector selector (metric name and matcher
# block) and every range; promtool does the real parsing.

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan", "atan2"}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
AGGREGATIONS = {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk",
                "bottomk", "quantile", "count_values"}
IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def _skip_string(s, i):
    q = s[i]
    i += 1
    while i < len(s) and s[i] != q:
        i += 2 if s[i] == "\\" and q != "`" else 1
    return i + 1


def _block(s, i, open_c, close_c):
    """Returns (content, index after the closing character) of the block opening at s[i]."""
    depth, j = 0, i
    while j < len(s):
        c = s[j]
        if c in "\"'`":
            j = _skip_string(s, j)
            continue
        if c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
            if depth == 0:
                return s[i + 1:j], j + 1
        j += 1
    raise ValueError("unbalanced %s in %r" % (open_c, s))


def _next_nonspace(s, i):
    while i < len(s) and s[i].isspace():
        i += 1
    return i


def scan(expr):
    """Returns (selectors, calls): selectors as (metric name or None, matcher text), calls as
    (function name, argument text)."""
    selectors, calls = [], []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            i = _skip_string(expr, i)
        elif c == "{":
            body, i = _block(expr, i, "{", "}")
            selectors.append((None, body))
        elif c == "[":
            _, i = _block(expr, i, "[", "]")
        elif c.isdigit() or (c == "." and i + 1 < len(expr) and expr[i + 1].isdigit()):
            m = re.compile(r"[0-9.][0-9A-Za-z_.]*").match(expr, i)  # 1e9, 0x1f, 6h, 1.5
            i = m.end()
        elif IDENT.match(expr, i):
            m = IDENT.match(expr, i)
            word, i = m.group(0), m.end()
            j = _next_nonspace(expr, i)
            if word in LABEL_LIST_KEYWORDS:
                if j < len(expr) and expr[j] == "(":
                    _, i = _block(expr, j, "(", ")")
            elif word.lower() in KEYWORDS:
                pass
            elif word in AGGREGATIONS and expr.startswith(("by", "without"), j):
                calls.append((word, ""))  # sum by (x) (...): the arguments follow
            elif j < len(expr) and expr[j] == "(":
                args, _ = _block(expr, j, "(", ")")
                calls.append((word, args))
                i = j + 1  # scan inside the arguments too
            elif j < len(expr) and expr[j] == "{":
                body, i = _block(expr, j, "{", "}")
                selectors.append((word, body))
            else:
                selectors.append((word, ""))
        else:
            i += 1
    return selectors, calls


def metric_names(expr):
    return sorted({n for n, _ in scan(expr)[0] if n})


def test_scanner_finds_selectors_and_calls():
    sel, calls = scan('sum by (job, instance) (rate(a_total{job=~"$job", instance=~"$instance"}'
                      '[$__rate_interval])) / ignoring (x) group_left () (b{x="{y}"} > 1e9) '
                      'and on (job) c offset 6h unless predict_linear(d[1h], 4 * 3600)')
    assert [n for n, _ in sel] == ["a_total", "b", "c", "d"]
    assert sel[1][1] == 'x="{y}"'
    assert [c for c, _ in calls] == ["sum", "rate", "predict_linear"]


# ---- Prometheus configuration and rules -------------------------------------------------------

def promtool(*args, cwd=ROOT):
    exe = shutil.which("promtool")
    assert exe, "promtool not found (Debian package prometheus, in TEST_PACKAGES)"
    return subprocess.run([exe] + list(args), cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_promtool_check_config():
    r = promtool("check", "config", os.path.join(PROM, "prometheus.yml"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 2 rule files found" in r.stdout + r.stderr


def test_prometheus_config_scrapes_memkv():
    cfg = load_yaml(os.path.join(PROM, "prometheus.yml"))
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    memkv = jobs["memkv"]
    assert memkv["scrape_interval"] == "15s"
    assert memkv["static_configs"][0]["targets"] == ["127.0.0.1:9122"]
    assert cfg["rule_files"] == ["recording_rules.yml", "alert_rules.yml"]
    text = open(os.path.join(PROM, "prometheus.yml")).read()
    # The exporter's job is there, commented out, with the multi-target relabelling.
    for line in ("# - job_name: memkv-exporter", "#       target_label: __param_target",
                 "#       target_label: instance", "#     - target_label: __address__"):
        assert line in text, line


def test_promtool_check_rules():
    r = promtool("check", "rules", RECORDING, ALERTS)
    assert r.returncode == 0, r.stdout + r.stderr


def test_promtool_test_rules():
    assert len(RULE_TESTS) >= 4
    r = promtool("test", "rules", *RULE_TESTS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "FAILED" not in r.stdout + r.stderr


def test_recording_rule_names_and_unit_tests():
    names = [r["record"] for r in recording_rules()]
    assert len(names) == len(set(names))
    for n in names:
        assert re.fullmatch(r"memkv:[a-z0-9_]+:[a-z0-9_]+", n), "level:metric:operation: " + n
    for required in ("memkv:allocator_fragmentation:ratio", "memkv:memory_fragmentation:ratio",
                     "memkv:allocator_rss:ratio", "memkv:memory_fragmentation:bytes",
                     "memkv:memory_subsystem:share", "memkv:memory_rss_unaccounted:bytes",
                     "memkv:memory_subsystems_unaccounted:bytes"):
        assert required in names
    tested = set()
    for path in RULE_TESTS:
        for t in load_yaml(path).get("tests", []):
            for e in t.get("promql_expr_test", []) or []:
                tested.add(e["expr"].strip())
    assert set(names) <= tested, "recording rules without a unit test: %s" % (set(names) - tested)


def runbook_anchors():
    anchors = set()
    for line in open(RUNBOOKS):
        m = re.match(r"^#{2,3} (.+?)\s*$", line)
        if m:  # GitHub's anchors: lower case, blanks to '-', most punctuation dropped
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", m.group(1).lower()).replace(" ", "-"))
    return anchors


def test_alert_conventions():
    anchors = runbook_anchors()
    alerts = alert_rules()
    names = {a["alert"] for a in alerts}
    for required in ("MemkvInstanceDown", "MemkvMemoryFragmentationHigh",
                     "MemkvAllocatorFragmentationHigh", "MemkvPossibleSwapping",
                     "MemkvMemoryNearMaxmemory", "MemkvMemoryPredictedToReachMaxmemory",
                     "MemkvKeysEvicted", "MemkvHeapProfilerActiveTooLong",
                     "MemkvHeapProfilerCapped", "MemkvMemoryMetricsMissing"):
        assert required in names
    seen = set()
    for a in alerts:
        name = a["alert"]
        assert re.fullmatch(r"Memkv(?:[A-Z][a-z0-9]*)+", name), name
        assert a["labels"]["severity"] in ("critical", "warning", "info"), name
        key = (name, a["labels"]["severity"])
        assert key not in seen, "two rules with the same name and severity: %s" % (key,)
        seen.add(key)
        ann = a["annotations"]
        assert ann["summary"] and "{{" not in ann["summary"], name + ": summary must be static"
        if name != "MemkvTargetMissing":  # absent(): no labels, no value worth showing
            assert "{{" in ann["description"] and "$labels.instance" in ann["description"], name
        assert ann["runbook_url"] == "docs/runbooks.md#" + name.lower(), name
        assert name.lower() in anchors, "docs/runbooks.md has no section " + name
        assert a.get("for"), name + ": no 'for'"
        if name not in ("MemkvInstanceDown", "MemkvTargetMissing", "MemkvMemoryMetricsMissing"):
            # The description shows numbers, humanized or formatted ($value or a query).
            assert re.search(r"\bvalue \| (humanize|printf)", ann["description"]), name


def test_fragmentation_alerts_need_ratio_and_bytes():
    for a in alert_rules():
        if "Fragmentation" in a["alert"] or "DirtyPages" in a["alert"]:
            expr = a["expr"]
            assert re.search(r"\)\s*>\s*(268435456|1073741824)", expr), a["alert"]
            assert re.search(r"\)\s*>\s*1\.5", expr), a["alert"]
            assert " and on (job, instance)" in expr, a["alert"]


def test_every_alert_fires_and_has_a_silent_near_miss():
    fired, silent = set(), set()
    for path in RULE_TESTS:
        for t in load_yaml(path).get("tests", []):
            for at in t.get("alert_rule_test", []) or []:
                if at.get("exp_alerts"):
                    for e in at["exp_alerts"]:
                        fired.add((at["alertname"], e["exp_labels"]["severity"]))
                else:
                    silent.add(at["alertname"])
    for a in alert_rules():
        key = (a["alert"], a["labels"]["severity"])
        assert key in fired, "no unit test where %s (%s) fires" % key
        assert a["alert"] in silent, "no unit test where %s stays silent" % a["alert"]


# ---- dashboards -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_lint(name):
    d = load_dashboard(name)
    problems = []
    assert d["uid"] == name, "stable uid = file name"
    assert d["schemaVersion"] >= 36
    assert "__inputs" not in d and "__requires" not in d, "__inputs breaks file provisioning"
    assert "${DS_" not in json.dumps(d)
    variables = {v["name"]: v for v in d["templating"]["list"]}
    ds = variables["datasource"]
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    for var, label in (("job", "job"), ("instance", "instance")):
        v = variables[var]
        assert v["type"] == "query"
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        assert re.fullmatch(r"label_values\(memkv_memory_used_bytes(\{job=~\"\$job\"\})?, %s\)"
                            % label, q), q
        assert v["datasource"]["uid"] == "${datasource}"
    ids = [p["id"] for p in panels(d)]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for p in panels(d):
        title = p.get("title", "")
        if p["type"] == "row":
            continue
        if not p.get("description"):
            problems.append("%s: no description" % title)
        if "gridPos" not in p:
            problems.append("%s: no gridPos" % title)
        if p["type"] == "text":
            continue
        if p.get("datasource") != {"type": "prometheus", "uid": "${datasource}"}:
            problems.append("%s: datasource is not ${datasource}" % title)
        if not p["fieldConfig"]["defaults"].get("unit"):
            problems.append("%s: no unit" % title)
        if not p.get("targets"):
            problems.append("%s: no targets" % title)
        if p["type"] == "timeseries" and re.search(r"\bratio\b", title.lower()):
            fc = p["fieldConfig"]["defaults"]
            if fc["custom"]["thresholdsStyle"]["mode"] == "off" or \
                    len(fc["thresholds"]["steps"]) < 2:
                problems.append("%s: ratio panel without threshold lines" % title)
        for t in p.get("targets", []):
            expr = t.get("expr", "")
            if t.get("datasource", {}).get("uid") != "${datasource}":
                problems.append("%s: target datasource is not ${datasource}" % title)
            if not expr:
                problems.append("%s: empty expr" % title)
                continue
            selectors, calls = scan(expr)
            for metric, matchers in selectors:
                m = re.sub(r"\s+", "", matchers)
                if 'job=~"$job"' not in m or 'instance=~"$instance"' not in m:
                    problems.append("%s: selector %s{%s} lacks the job/instance matchers"
                                    % (title, metric, matchers))
            for fn, args in calls:
                if fn in ("rate", "irate", "increase"):
                    ranges = re.findall(r"\[([^\]]*)\]", args)
                    if ranges != ["$__rate_interval"]:
                        problems.append("%s: %s(...) over %s, not [$__rate_interval]"
                                        % (title, fn, ranges))
    assert not problems, "\n".join(problems)


def test_dashboard_expressions_parse(tmp_path):
    """Every dashboard expression (variables substituted) as a recording rule: promtool check
    rules parses each with Prometheus's own PromQL parser."""
    targets = dashboard_targets()
    assert len(targets) > 40
    rules = [{"record": "dashboard:expr_%d:check" % i, "expr": substitute(e)}
             for i, (_, _, e) in enumerate(targets)]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    r = promtool("check", "rules", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: %d rules found" % len(rules) in r.stdout


def test_dashboards_cover_the_issue():
    """The panels issue 6 asks for are there (by the metrics they use)."""
    used = {}
    for name, _, expr in dashboard_targets():
        used.setdefault(name, set()).update(metric_names(expr))
    assert {"memkv_allocator_allocated_bytes", "memkv_allocator_active_bytes",
            "memkv_allocator_resident_bytes", "memkv_memory_rss_bytes",
            "memkv_allocator_fragmentation_ratio", "memkv_memory_fragmentation_ratio",
            "memkv_memory_max_bytes", "memkv_evicted_keys_total"} <= used["memkv-memory-overview"]
    assert {"memkv_memory_subsystem_bytes", "memkv_memory_used_bytes",
            "memkv_allocator_bin_free_bytes", "memkv_memory_arena_bytes"} \
        <= used["memkv-subsystems"]
    # issue 13: bytes by type, the largest prefixes and their growth, TTL buckets, key lengths
    assert {"memkv_keyspace_bytes", "memkv_keyspace_prefix_bytes", "memkv_keyspace_ttl_bytes",
            "memkv_keyspace_key_length_bucket"} <= used["memkv-subsystems"]
    # issue 15: the Lua heap, the script cache's bytes and scripts, its evictions
    assert {"memkv_memory_lua_bytes", "memkv_memory_scripts_eval_bytes", "memkv_scripts_cached",
            "memkv_scripts_evicted_total"} <= used["memkv-subsystems"]
    assert any("deriv(memkv_keyspace_prefix_bytes" in e for d, _, e in dashboard_targets()
               if d == "memkv-subsystems")
    assert {"memkv_profiling_active", "memkv_profiling_sample_bytes",
            "memkv_profiling_memory_bytes", "memkv_memory_subsystem_bytes"} \
        <= used["memkv-profiler"]
    assert {"memkv_memory_used_bytes", "memkv_memory_rss_bytes", "memkv_up", "up",
            "memkv_memory_fragmentation_ratio", "memkv_memory_subsystem_bytes",
            "memkv_profiling_active"} <= used["memkv-fleet"]


def test_rss_is_the_servers_not_a_process_family():
    """Behind memkv-exporter, process_* describe the exporter: no rule, dashboard or Kubernetes
    rule reads them; the server's RSS is memkv_memory_rss_bytes on both paths."""
    exprs = [("dashboard %s / %s" % (d, t), e) for d, t, e in dashboard_targets()]
    for g in rule_groups():
        for r in g["rules"]:
            exprs.append((r.get("alert") or r.get("record"), r["expr"]))
            for v in (r.get("annotations") or {}).values():
                exprs.append((r.get("alert"), v))
    offenders = [w for w, e in exprs if re.search(r"\bprocess_[a-z_]+", e)]
    assert not offenders, "process_* read by: %s" % offenders
    k8s = open(os.path.join(K8S, "prometheusrule.yaml")).read()
    assert "process_resident_memory_bytes" not in k8s
    rss = [w for w, e in exprs if "memkv_memory_rss_bytes" in e]
    assert len(rss) >= 10, rss


def test_grafana_provisioning():
    ds = load_yaml(os.path.join(GRAFANA, "datasources", "prometheus.yml"))
    assert ds["apiVersion"] == 1
    (d,) = ds["datasources"]
    assert d["type"] == "prometheus" and d["uid"] == "memkv-prometheus" and d["isDefault"]
    assert d["url"] == "http://127.0.0.1:9090"
    prov = load_yaml(os.path.join(GRAFANA, "dashboards", "memkv.yml"))
    (p,) = prov["providers"]
    assert p["type"] == "file"
    compose = load_yaml(COMPOSE)
    mounts = compose["services"]["grafana"]["volumes"]
    assert "../dashboards:%s:ro" % p["options"]["path"] in mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


# ---- systemd --------------------------------------------------------------------------------

def unit_for_test(tmp_path):
    """The unit with ExecStart pointing at the built binary (verify checks it exists)."""
    text = open(UNIT).read()
    assert "\nExecStart=/usr/local/bin/memkv-server /etc/memkv/memkv.conf\n" in text
    text = text.replace("ExecStart=/usr/local/bin/memkv-server",
                        "ExecStart=" + os.path.abspath(SERVER))
    path = tmp_path / "memkv.service"
    path.write_text(text)
    return str(path)


def systemd_analyze():
    exe = shutil.which("systemd-analyze")
    assert exe, "systemd-analyze not found (Debian package systemd, in TEST_PACKAGES)"
    return exe


def test_systemd_unit_verifies(tmp_path):
    unit = unit_for_test(tmp_path)
    r = subprocess.run([systemd_analyze(), "verify", unit], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    # Unknown or misspelt settings are only warnings: any line about the unit fails too.
    complaints = [l for l in (r.stdout + r.stderr).splitlines() if "memkv.service" in l]
    assert not complaints, "\n".join(complaints)


def test_systemd_unit_hardened(tmp_path):
    text = open(UNIT).read()
    for line in ("DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "NoNewPrivileges=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                 "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes",
                 "LockPersonality=yes", "RestrictNamespaces=yes", "CapabilityBoundingSet=\n",
                 "StateDirectory=memkv", "RuntimeDirectory=memkv", "Type=simple",
                 "Restart=on-failure", "LimitNOFILE="):
        assert line in text, line
    unit = unit_for_test(tmp_path)
    r = subprocess.run([systemd_analyze(), "security", "--offline=yes",
                        "--threshold=%d" % round(SYSTEMD_EXPOSURE_MAX * 10), unit],
                       capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    m = re.search(r"Overall exposure level for memkv\.service: ([0-9.]+)", out)
    assert m, out
    level = float(m.group(1))
    assert level <= SYSTEMD_EXPOSURE_MAX, "exposure %.1f > %.1f\n%s" % (
        level, SYSTEMD_EXPOSURE_MAX, out)
    assert r.returncode == 0, out


def exporter_unit_for_test(tmp_path):
    text = open(EXPORTER_UNIT).read()
    exec_line = "\nExecStart=/usr/local/bin/memkv-exporter --config /etc/memkv-exporter/memkv-exporter.conf\n"
    assert exec_line in text
    text = text.replace("ExecStart=/usr/local/bin/memkv-exporter",
                        "ExecStart=" + os.path.abspath(exporter_or_skip()))
    path = tmp_path / "memkv-exporter.service"
    path.write_text(text)
    return str(path)


def test_exporter_systemd_unit(tmp_path):
    text = open(EXPORTER_UNIT).read()
    for line in ("DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "NoNewPrivileges=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                 "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes",
                 "CapabilityBoundingSet=\n", "Type=simple", "Restart=on-failure", "LoadCredential="):
        assert line in text, line
    unit = exporter_unit_for_test(tmp_path)
    r = subprocess.run([systemd_analyze(), "verify", unit], capture_output=True, text=True, timeout=120)
    complaints = [l for l in (r.stdout + r.stderr).splitlines() if "memkv-exporter.service" in l
                  and "LoadCredential" not in l]  # the credential file does not exist here
    assert not complaints, "\n".join(complaints)
    r = subprocess.run([systemd_analyze(), "security", "--offline=yes",
                        "--threshold=%d" % round(SYSTEMD_EXPOSURE_MAX * 10), unit],
                       capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    m = re.search(r"Overall exposure level for memkv-exporter\.service: ([0-9.]+)", out)
    assert m, out
    assert float(m.group(1)) <= SYSTEMD_EXPOSURE_MAX, out
    # the config path the unit names is the one the credential is copied for
    conf = open(EXPORTER_CONF).read()
    cred = re.search(r"LoadCredential=([^:]+):", text).group(1)
    assert "/run/credentials/memkv-exporter.service/" + cred in conf


def test_exporter_config_loads():
    """The example config is valid for the real exporter (it loads the file before --help)."""
    exe = exporter_or_skip()
    r = subprocess.run([exe, "--config", EXPORTER_CONF, "--help"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    text = open(EXPORTER_CONF).read()
    assert "password-file" in text and "password-env" in text
    assert not re.search(r"^\s*(password|requirepass)\s", text, re.M)
    bad = subprocess.run([exe, "--config", "/dev/null", "--timeout", "soon"], capture_output=True,
                         text=True, timeout=30)
    assert bad.returncode == 2


def test_exporter_k8s_manifests():
    with open(os.path.join(K8S, "exporter.yaml")) as f:
        docs = {d["kind"]: d for d in yaml.safe_load_all(f)}
    assert set(docs) == {"ConfigMap", "Deployment", "Service"}
    dep, svc, cm = docs["Deployment"], docs["Service"], docs["ConfigMap"]
    pod = dep["spec"]["template"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (c,) = pod["spec"]["containers"]
    (port,) = c["ports"]
    conf = cm["data"]["memkv-exporter.conf"]
    assert re.search(r"^listen 0\.0\.0\.0:%d$" % port["containerPort"], conf, re.M)
    assert svc["spec"]["ports"][0]["targetPort"] == port["name"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    for path in re.findall(r"password-file (\S+)", conf):
        assert path.startswith(mounts["auth"] + "/"), path
    # the scrape config: promtool-valid, relabelled to /scrape on the Service's port
    scrape = os.path.join(K8S, "exporter-scrape.yml")
    r = promtool("check", "config", scrape)
    assert r.returncode == 0, r.stdout + r.stderr
    cfg = load_yaml(scrape)
    exporter_addr = "%s.monitoring.svc:%d" % (svc["metadata"]["name"], svc["spec"]["ports"][0]["port"])
    multi = [j for j in cfg["scrape_configs"] if j.get("metrics_path") == "/scrape"]
    assert multi
    for job in multi:
        rl = job["relabel_configs"]
        assert {"source_labels": ["__address__"], "target_label": "__param_target"} in rl
        assert {"source_labels": ["__param_target"], "target_label": "instance"} in rl
        assert {"target_label": "__address__", "replacement": exporter_addr} in rl


# ---- Kubernetes and compose -------------------------------------------------------------------

def test_k8s_prometheusrule_matches_rule_files():
    pr = load_yaml(os.path.join(K8S, "prometheusrule.yaml"))
    assert pr["apiVersion"] == "monitoring.coreos.com/v1" and pr["kind"] == "PrometheusRule"
    assert pr["spec"]["groups"] == rule_groups(), \
        "deploy/k8s/prometheusrule.yaml differs from deploy/prometheus/*_rules.yml: " \
        "regenerate it (command at its top)"


def test_k8s_manifests_consistent():
    dep = load_yaml(os.path.join(K8S, "deployment.yaml"))
    svc = load_yaml(os.path.join(K8S, "service.yaml"))
    sm = load_yaml(os.path.join(K8S, "servicemonitor.yaml"))
    assert (dep["apiVersion"], dep["kind"]) == ("apps/v1", "Deployment")
    assert (svc["apiVersion"], svc["kind"]) == ("v1", "Service")
    assert (sm["apiVersion"], sm["kind"]) == ("monitoring.coreos.com/v1", "ServiceMonitor")
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    sel = dep["spec"]["selector"]["matchLabels"]
    assert sel.items() <= pod_labels.items()
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    cports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert cports == {"redis": 6379, "metrics": 9122}
    sports = {p["name"]: p["targetPort"] for p in svc["spec"]["ports"]}
    assert sports == {"redis": "redis", "metrics": "metrics"}
    (ep,) = sm["spec"]["endpoints"]
    assert ep["port"] == "metrics" and ep["path"] == "/metrics"
    # The job label is the Service's name: the alert rules select up{job=~"memkv.*"}.
    assert svc["metadata"]["name"].startswith("memkv")
    args = c["args"]
    assert args[args.index("--metrics-port") + 1] == str(cports["metrics"])
    assert args[args.index("--port") + 1] == str(cports["redis"])
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert dep["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_compose_structure():
    compose = load_yaml(COMPOSE)
    services = compose["services"]
    assert set(services) == {"memkv", "prometheus", "grafana"}
    assert "FROM debian:12" in services["memkv"]["build"]["dockerfile_inline"]
    assert services["memkv"]["build"]["context"] == ".."
    assert any("--config.file=/etc/prometheus/prometheus.yml" in a
               for a in services["prometheus"]["command"])
    for name, svc in services.items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):  # bind mounts: relative to deploy/
                assert os.path.exists(os.path.join(DEPLOY, src)), "%s mounts %s" % (name, src)
            else:
                assert src in compose["volumes"], "%s: undeclared volume %s" % (name, src)
    assert "./prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]


# ---- live: a real Prometheus scraping a real memkv --------------------------------------------

class Proc:
    """A child process with its output in a file; stop() ends it (and only it)."""

    def __init__(self, argv, logpath):
        self.logpath = logpath
        self.log = open(logpath, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def output(self):
        with open(self.logpath) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Prometheus(Proc):
    def __init__(self, workdir, metrics_port=None, scrape_configs=None):
        """Scrapes memkv's endpoint on metrics_port (job memkv), or the given scrape_configs,
        every second, and evaluates the rule files."""
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        if scrape_configs is None:
            scrape_configs = [{"job_name": "memkv",
                               "static_configs": [{"targets": ["127.0.0.1:%d" % metrics_port]}]}]
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": [RECORDING, ALERTS],
            "scrape_configs": scrape_configs,
        }
        cfg = os.path.join(workdir, "prometheus.yml")
        with open(cfg, "w") as f:
            yaml.safe_dump(config, f)
        exe = shutil.which("prometheus")
        assert exe, "prometheus not found (Debian package prometheus, in TEST_PACKAGES)"
        super().__init__(
            [exe, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(workdir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            os.path.join(workdir, "prometheus.log"))

    def get(self, path, **params):
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())

    def query(self, expr):
        r = self.get("/api/v1/query", query=expr)
        assert r["status"] == "success", r
        return r["data"]["result"]

    def wait(self, what, cond, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "prometheus exited:\n" + open(self.logpath).read()
            try:
                if cond():
                    return
            except (urllib.error.URLError, ConnectionError, OSError) as e:
                last = e
            time.sleep(0.25)
        raise AssertionError("timed out waiting for %s (%s)\n%s" % (
            what, last, open(self.logpath).read()))



def metrics_port_of(server):
    port = getattr(server, "metrics_port", 0)
    if not port:  # the ready file says it (metrics_port=N) with --metrics-port auto
        fields = dict(line.split("=", 1) for line in open(server.ready).read().split())
        port = int(fields.get("metrics_port", 0))
    return port


def load(r, jemalloc):
    """Writes, expiries, the heap profiler on, a maxmemory limit and evictions."""
    value = b"x" * 200
    pipe = r.pipeline(transaction=False)
    for i in range(20000):
        pipe.set("key:%d" % i, value)
    for i in range(500):
        pipe.set("ttl:%d" % i, value, ex=3600)
    for i in range(200):
        pipe.set("gone:%d" % i, value, px=1)
    pipe.execute()
    if jemalloc:
        assert r.config_set("memory-profiling-enabled", "yes")
        r.execute_command("MEMORY", "PROFILE", "SNAPSHOT")
        r.execute_command("MEMORY", "PROFILE", "TOP", "3")
    used = r.info("memory")["used_memory"]
    r.config_set("maxmemory-policy", "allkeys-lru")
    r.config_set("maxmemory", str(used + 512 * 1024))
    pipe = r.pipeline(transaction=False)
    for i in range(10000):
        pipe.set("more:%d" % i, value)
    pipe.execute()
    assert r.info("stats")["evicted_keys"] > 0, "no evictions"
    for i in range(200):
        r.get("gone:%d" % i)  # expire them (lazily) if the cron has not yet


def exporter_scrape_config(job, exporter_port, targets):
    """The multi-target pattern of deploy/prometheus/prometheus.yml: each listed server becomes
    the exporter's ?target= and stays the instance label."""
    return {"job_name": job, "metrics_path": "/scrape",
            "static_configs": [{"targets": list(targets)}],
            "relabel_configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": "127.0.0.1:%d" % exporter_port}]}


def check_expressions(prom, job, skip_names=None, exclude_alert_names=()):
    """Every dashboard expression and recording rule returns data, and every metric an alert
    rule names exists, in prom for job. skip_names: {metric: reason}: an expression naming one
    (directly or through a recording rule) is listed, not checked. Returns (failures, checks,
    skipped) with skipped as [(where, expr, reasons)]."""
    skip_names = skip_names or {}

    def has_data(expr):
        return bool(prom.query(expr))

    present = {}

    def missing_names(expr):
        out = []
        for n in metric_names(expr):
            if n not in present:
                present[n] = has_data(n)
            if not present[n]:
                out.append(n)
        return out

    # Recording rules resolve to the raw families they use.
    rec_deps = {}
    for rule in recording_rules():
        rec_deps[rule["record"]] = set(metric_names(rule["expr"]))

    def raw_names(expr):
        names = set()
        for n in metric_names(expr):
            names |= rec_deps.get(n, {n})
        return names

    checks = [("%s / %s" % (d, t), substitute(e)) for d, t, e in dashboard_targets()]
    for rule in recording_rules():
        checks.append(("recording rule %s" % rule["record"], rule["expr"]))
        checks.append(("recorded series %s" % rule["record"], rule["record"]))
    failures, skipped = [], []
    for where, expr in checks:
        why = sorted({skip_names[n] for n in raw_names(expr) if n in skip_names})
        if why:
            skipped.append((where, expr, why))
            continue
        if has_data(expr):
            continue
        gone = missing_names(expr)
        if gone:
            failures.append("%s: %s\n    missing metric(s): %s" % (where, expr, ", ".join(gone)))
        else:
            failures.append("%s: %s\n    returned no data (every metric in it exists)"
                            % (where, expr))
    # Alert rules fire only on trouble, but every metric they name must exist, or the alert
    # could never fire.
    for rule in alert_rules():
        names = set(metric_names(rule["expr"])) - {"up"} - set(exclude_alert_names)
        names -= set(skip_names)
        for n in sorted(names):
            if n not in present:
                present[n] = has_data(n)
            if not present[n]:
                failures.append("alert %s: %s\n    missing metric: %s" % (
                    rule["alert"], rule["expr"].strip(), n))
    # The dashboards' variables find the targets of this job.
    jobs = prom.get("/api/v1/label/job/values", **{"match[]": "memkv_memory_used_bytes"})
    if job not in jobs["data"]:
        failures.append("variable job: label_values(memkv_memory_used_bytes, job) = %s, no %s"
                        % (jobs["data"], job))
    return failures, checks, skipped


def test_live_every_expression_returns_data(server_factory, tmp_path):
    server = server_factory()
    port = metrics_port_of(server)
    assert port, "memkv did not report a metrics port (--metrics-port auto)"
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read()
    assert b"memkv_memory_used_bytes" in body, body[:500]
    r = server.client()
    allocator = r.info("memory")["mem_allocator"]
    jemalloc = allocator.startswith("jemalloc")
    load(r, jemalloc)

    prom = Prometheus(str(tmp_path), port)
    try:
        prom.wait("prometheus ready", lambda: urllib.request.urlopen(
            prom.base + "/-/ready", timeout=2).status == 200, 30)
        # Three scrapes in the window: every rate() has two points. And the rule groups ran.
        prom.wait("three scrapes of memkv", lambda: any(
            float(s["value"][1]) >= 3 for s in prom.query(
                'count_over_time(memkv_memory_used_bytes{job="memkv"}[1m])')), 40)
        prom.wait("the recording rules", lambda: prom.query(
            "memkv:memory_rss_unaccounted:bytes"), 20)
        # A little more traffic between scrapes, so the counters move.
        for i in range(200):
            r.set("late:%d" % i, "v")

        skip = {} if jemalloc else {n: "jemalloc-only family, allocator %s" % allocator
                                    for n in JEMALLOC_ONLY}
        failures, checks, skipped = check_expressions(prom, "memkv", skip,
                                                      exclude_alert_names=EXPORTER_ONLY)
        jobs = prom.get("/api/v1/label/job/values", **{"match[]": "memkv_memory_used_bytes"})
        assert jobs["data"] == ["memkv"], jobs
        instances = prom.get("/api/v1/label/instance/values",
                             **{"match[]": 'memkv_memory_used_bytes{job=~"memkv"}'})
        assert instances["data"] == ["127.0.0.1:%d" % port], instances
        assert not failures, "%d of %d expressions failed (allocator %s):\n%s" % (
            len(failures), len(checks), allocator, "\n".join(failures))
        if skipped:
            print("allocator %s: %d expressions over jemalloc-only families not checked"
                  % (allocator, len(skipped)))
        if jemalloc:
            assert not skipped
            # The load really reached the panels that need it.
            assert float(prom.query('memkv_profiling_active{job="memkv"}')[0]["value"][1]) == 1
            assert prom.query('memkv_memory_max_bytes{job="memkv"} > 0')
            assert prom.query('memkv_evicted_keys_total{job="memkv"} > 0')
    finally:
        prom.stop()
        r.close()


# ---- live: the same rules and dashboards behind memkv-exporter in front of a Redis ------------

def start_redis(workdir):
    """redis-server on a free loopback port, no persistence (exporter_harness.RedisServer).
    Returns (it, port); workdir is unused (the harness makes its own)."""
    r = RedisServer()
    return r, r.port


def start_exporter(exe, workdir):
    """memkv-exporter on an ephemeral loopback port (exporter_harness.Exporter). Returns
    (it, port)."""
    # --malloc-stats: the size-class and mapped figures the dashboards show come from MEMORY
    # MALLOC-STATS, which the exporter asks for only when told to (it costs the target ~1-2 ms).
    e = Exporter(["--malloc-stats"], exe=exe)
    return e, e.port


def redis_load(r):
    """Writes, expiries, a maxmemory limit and evictions, as load() does for memkv."""
    value = b"x" * 200
    pipe = r.pipeline(transaction=False)
    for i in range(20000):
        pipe.set("key:%d" % i, value)
    for i in range(500):
        pipe.set("ttl:%d" % i, value, ex=3600)
    pipe.execute()
    used = r.info("memory")["used_memory"]
    r.config_set("maxmemory-policy", "allkeys-lru")
    r.config_set("maxmemory", str(used + 512 * 1024))
    pipe = r.pipeline(transaction=False)
    for i in range(10000):
        pipe.set("more:%d" % i, value)
    pipe.execute()
    assert r.info("stats")["evicted_keys"] > 0, "no evictions"


def test_live_expressions_behind_exporter(tmp_path):
    """Redis behind memkv-exporter, scraped through /scrape?target= with the relabelling of
    deploy/prometheus/prometheus.yml: every dashboard expression and recording rule that can
    have data for Redis returns data, and every metric the alert rules name exists; those that
    cannot (REDIS_NO_DATA) are listed with their reason. The RSS in the rules is the server's
    (INFO used_memory_rss), not the exporter's own process_resident_memory_bytes."""
    exe = exporter_or_skip()
    procs = []
    prom = None
    try:
        rp, rport = start_redis(tmp_path)
        procs.append(rp)
        ep, eport = start_exporter(exe, tmp_path)
        procs.append(ep)
        r = redis.Redis(host="127.0.0.1", port=rport, socket_timeout=30)
        redis_load(r)
        target = "127.0.0.1:%d" % rport
        body = urllib.request.urlopen("http://127.0.0.1:%d/scrape?target=%s" % (eport, target),
                                      timeout=10).read().decode()
        assert re.search(r"^memkv_up(\{[^}]*\})? 1$", body, re.M), body[:2000]
        # And a server the exporter cannot reach: up 1 (the exporter answers), memkv_up 0.
        dead = "127.0.0.1:%d" % free_port()
        prom = Prometheus(str(tmp_path), scrape_configs=[
            exporter_scrape_config("memkv-exporter", eport, [target, dead])])
        prom.wait("prometheus ready", lambda: urllib.request.urlopen(
            prom.base + "/-/ready", timeout=2).status == 200, 30)
        prom.wait("three scrapes of the Redis", lambda: any(
            float(s["value"][1]) >= 3 for s in prom.query(
                'count_over_time(memkv_memory_used_bytes{job="memkv-exporter"}[1m])')), 40)
        prom.wait("the recording rules", lambda: prom.query(
            "memkv:memory_rss_unaccounted:bytes"), 20)
        for i in range(200):
            r.set("late:%d" % i, "v")
        failures, checks, skipped = check_expressions(prom, "memkv-exporter", REDIS_NO_DATA)
        # The instance is the Redis, and its RSS is the Redis's, not the exporter's.
        instances = prom.get("/api/v1/label/instance/values",
                             **{"match[]": 'memkv_memory_used_bytes{job=~"memkv-exporter"}'})
        assert instances["data"] == [target], instances
        (up,) = prom.query('memkv_up{job="memkv-exporter", instance="%s"}' % target)
        assert up["value"][1] == "1", up
        (rss,) = prom.query('memkv_memory_rss_bytes{job="memkv-exporter"}')
        redis_rss = r.info("memory")["used_memory_rss"]
        assert 0.5 * redis_rss < float(rss["value"][1]) < 2 * redis_rss, (rss, redis_rss)
        print("not checked for Redis (%d of %d):" % (len(skipped), len(checks)))
        for where, expr, why in skipped:
            print("  %s: %s" % (where, "; ".join(why)))
        assert not failures, "%d of %d expressions failed behind memkv-exporter:\n%s" % (
            len(failures), len(checks), "\n".join(failures))
        # Every check skipped has a reason, and the skips stay the exceptions.
        assert len(skipped) < len(checks) / 2, skipped
        # The unreachable server: MemkvInstanceDown is pending for it (its 'for' is 5 minutes),
        # MemkvMemoryMetricsMissing is not (a server that is down has no memory metrics).
        prom.wait("MemkvInstanceDown pending for %s" % dead, lambda: prom.query(
            'ALERTS{alertname="MemkvInstanceDown", instance="%s"}' % dead), 30)
        assert not prom.query('ALERTS{alertname="MemkvMemoryMetricsMissing"}')
        assert not prom.query('ALERTS{alertname="MemkvInstanceDown", instance="%s"}' % target)
        r.close()
    finally:
        if prom:
            prom.stop()
        for p in reversed(procs):
            p.stop()
