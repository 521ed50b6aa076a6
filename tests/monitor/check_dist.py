"""Checks the Grafana dashboard and the Prometheus alert rules under dist/ (docs/MONITOR.md, "Metrics").

usage: check_dist.py SOURCE_ROOT

dist/grafana/wormhole.json must parse as JSON, with panels that each query Prometheus;
dist/prometheus/wormhole-alerts.yml must parse as YAML (python3-yaml when installed; else a
line-based check of the same structure), every rule with alert, expr, for, a severity and
a summary. Every wormhole_* metric the two files use must be one the monitor exports
(a family name in monitor/mon_metrics.c), and every expression's brackets must balance.
Exits 0, or 1 naming what is wrong.
"""
import json
import os
import re
import sys

METRIC = re.compile(r"\bwormhole_[a-z0-9_]+\b")
problems = []


def exported(root):
    with open(os.path.join(root, "monitor", "mon_metrics.c")) as f:
        return set(re.findall(r'"(wormhole_[a-z0-9_]+)"', f.read()))


def check_expr(where, expr, names):
    if not expr or not expr.strip():
        problems.append("%s: empty expression" % where)
        return
    for m in METRIC.findall(expr):
        if m not in names:
            problems.append("%s: metric %s is not exported by the monitor" % (where, m))
    pairs = {")": "(", "]": "[", "}": "{"}
    stack = []
    for c in re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr):
        if c in "([{":
            stack.append(c)
        elif c in pairs and (not stack or stack.pop() != pairs[c]):
            problems.append("%s: unbalanced %r in %s" % (where, c, expr))
            return
    if stack:
        problems.append("%s: unclosed %r in %s" % (where, stack[-1], expr))


def check_dashboard(path, names):
    with open(path) as f:
        d = json.load(f)
    panels = d.get("panels") or []
    if not panels:
        problems.append("%s: no panels" % path)
    ids = set()
    for p in panels:
        where = "%s: panel %r" % (path, p.get("title"))
        if p.get("id") in ids:
            problems.append("%s: duplicate id %s" % (where, p.get("id")))
        ids.add(p.get("id"))
        if not p.get("targets"):
            problems.append("%s: no query" % where)
        for t in p.get("targets", []):
            check_expr(where, t.get("expr"), names)
    for v in d.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            check_expr("%s: variable %s" % (path, v.get("name")), q.get("query"), names)


def rules_from_lines(text):
    """The rules of an alert file read line by line (the shape this file uses:
    '- alert:' items with 'expr:', 'for:', 'labels:' and 'annotations:' keys)."""
    rules, cur, section = [], None, None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "\t" in line:
            problems.append("line %d: a tab (YAML indents with spaces)" % n)
        m = re.match(r"^(\s*)(- )?([A-Za-z_]+):\s*(.*)$", line)
        if not m:
            problems.append("line %d: not a 'key: value' line: %r" % (n, line))
            continue
        indent, item, key, value = len(m.group(1)), m.group(2), m.group(3), m.group(4)
        if item and key == "alert":
            cur = {"alert": value, "_indent": indent}
            rules.append(cur)
            section = None
        elif cur is not None and indent > cur["_indent"]:
            if key in ("labels", "annotations") and not value:
                section = cur.setdefault(key, {})
                section["_indent"] = indent
            elif section is not None and indent > section["_indent"]:
                section[key] = value.strip('"')
            else:
                cur[key] = value
                section = None
    return rules


def check_alerts(path, names):
    with open(path) as f:
        text = f.read()
    try:
        import yaml
        doc = yaml.safe_load(text)
        rules = [r for g in doc["groups"] for r in g["rules"]]
    except ImportError:
        rules = rules_from_lines(text)
    if not rules:
        problems.append("%s: no rules" % path)
    for r in rules:
        where = "%s: alert %s" % (path, r.get("alert"))
        for key in ("alert", "expr", "for"):
            if not r.get(key):
                problems.append("%s: no %s" % (where, key))
        if not (r.get("labels") or {}).get("severity"):
            problems.append("%s: no severity label" % where)
        if not (r.get("annotations") or {}).get("summary"):
            problems.append("%s: no summary annotation" % where)
        check_expr(where, str(r.get("expr", "")), names)


def main(argv):
    root = argv[1] if len(argv) > 1 else os.environ.get("WH_SOURCE_ROOT", ".")
    names = exported(root)
    check_dashboard(os.path.join(root, "dist", "grafana", "wormhole.json"), names)
    check_alerts(os.path.join(root, "dist", "prometheus", "wormhole-alerts.yml"), names)
    for p in problems:
        print("FAILED: %s" % p)
    if problems:
        return 1
    print("dist/grafana/wormhole.json and dist/prometheus/wormhole-alerts.yml: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
