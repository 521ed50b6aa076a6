#!/usr/bin/env python3
"""Checks that the documentation agrees with the programs it describes.

Usage: check_docs.py MODE [--publisher EXE] [--monitor EXE] [--logcat EXE] [--tail EXE]
                          [--cache EXE] [--index EXE]

Modes (each a unit test in tests/docs/meson.build):

examples  Every fenced ```json block of docs/*.md and README.md says what it is
          in its info string, and is loaded by the program that reads it:
            ```json publisher-config   wormhole-publisher --check-config FILE
            ```json monitor-instance   wormhole-monitor check-config (an instance
                                       file), its "publisher" object as above
            ```json filter             one or more JSON filters, each parsed by
                                       wormhole-logcat --filter
            ```json update             an update line: JSON whose keys are the
                                       fields of the table in docs/UPDATES.md
            ```json cache-config       wormhole-cache --config FILE --check
            ```json index-config       wormhole-index --config FILE --check (run
                                       in a temp dir: a SQLite index is created)
            ```json status             a status file sample: JSON once each
                                       "..." placeholder is read as 0
            ```json fragment           members of an object shown alone: JSON
                                       once wrapped in { }
          ```text filter blocks are text-form filters, and every quoted
          `--filter '...'` of a wormhole-logcat or wormhole-tail command line
          is one too. monitor/dist/example-config/ is checked as a whole with
          `wormhole-monitor check-config`, and each file's publisher object with
          the publisher.
links     Every relative Markdown link [text](target#anchor) and every path
          into the source tree written in the text (docs/CONFIG.md,
          `monitor/mon_config.c`, ...) of docs/*.md, README.md and the files of
          monitor/dist/ names something that exists (anchors: a heading of
          the target).
flags     Every --flag written after wormhole-publisher, wormhole-logcat,
          wormhole-tail or wormhole-monitor on a line of the docs appears in
          that program's --help; the options tables of docs/MYSQL.md and
          docs/ROCKSDB.md list their mapper's options; docs/MONITOR.md's table of instance-file
          settings is the one `wormhole-monitor --help` prints; the manual page
          monitor/dist/wormhole-monitor.8 renders without groff warnings and
          names every option and setting of `wormhole-monitor --help`.

Filters are checked against a log that does not exist: docs/FILTERS.md
promises that the filter is parsed before the log is opened and that a bad
one exits with status 2, so a good filter ends in status 1 (no log) instead.
Exit status: 0 when everything agrees, 1 otherwise (each problem on one line).
"""
import argparse
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.environ.get("WH_SOURCE_ROOT") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
PROGRAMS = ("wormhole-publisher", "wormhole-logcat", "wormhole-tail", "wormhole-monitor")
JSON_ROLES = ("publisher-config", "monitor-instance", "filter", "update", "cache-config",
              "index-config", "status", "fragment")

problems = []


def problem(where, msg):
    problems.append("%s: %s" % (where, msg))


def rel(path):
    return os.path.relpath(path, ROOT)


def doc_files():
    return sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))) + [os.path.join(ROOT, "README.md")]


def dist_files():
    d = os.path.join(ROOT, "monitor", "dist")
    return sorted(p for p in glob.glob(os.path.join(d, "**"), recursive=True) if os.path.isfile(p))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---- Markdown ------------------------------------------------------------------------------

FENCE = re.compile(r"^(\s*)(```+)(.*)$")


def blocks(path):
    """(line number, info string, text) of each fenced code block, and the
    prose lines outside them as (line number, text)."""
    out, prose = [], []
    lines = read(path).split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        indent, ticks, info = m.group(1), m.group(2), m.group(3).strip()
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not re.match(r"^\s*" + ticks + r"\s*$", lines[i]):
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        if i == len(lines):
            problem("%s:%d" % (rel(path), start), "code block never closed")
        out.append((start, info, "\n".join(body) + "\n"))
        i += 1
    return out, prose


def slug(heading):
    """GitHub's anchor of a heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path):
    found = set()
    text = read(path)
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    for m in re.finditer(r"^#+\s+(.*?)\s*#*\s*$", text, re.M):
        found.add(slug(m.group(1)))
    return found


# ---- running the programs ---------------------------------------------------------------------

def run(argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)
    return p.returncode, p.stdout, p.stderr


class Checker:
    def __init__(self, args):
        self.a = args
        self.tmp = tempfile.mkdtemp(prefix="wh-docs-%d-" % os.getpid())
        self.nolog = os.path.join(self.tmp, "no-binlogs")    # never created
        self.count = 0

    def publisher_config(self, where, obj):
        path = os.path.join(self.tmp, "publisher-%d.json" % self.count)
        self.count += 1
        with open(path, "w") as f:
            json.dump(obj, f)
        rc, out, err = run([self.a.publisher, "--check-config", path])
        if rc != 0 or out.strip() != "OK   " + path:
            problem(where, "wormhole-publisher --check-config refuses it (exit %d): %s" % (
                rc, (err or out).strip()))

    def app_config(self, where, exe, name, obj):
        d = os.path.join(self.tmp, "%s-%d" % (name, self.count))
        self.count += 1
        os.makedirs(d)
        path = os.path.join(d, "config.json")

        def local(o, key=""):
            # Files the example places on a production host (/var/lib/...,
            # /run/...) go to the temp dir; other strings stay as they are.
            if isinstance(o, dict):
                return {k: local(v, k) for k, v in o.items()}
            if isinstance(o, list):
                return [local(v) for v in o]
            if isinstance(o, str) and key in ("path", "file") and o.startswith("/"):
                return os.path.join(d, os.path.basename(o))
            return o
        with open(path, "w") as f:
            json.dump(local(obj), f)
        rc, out, err = run([os.path.abspath(exe), "--config", path, "--check"], cwd=d)
        if rc != 0:
            problem(where, "%s --check refuses it (exit %d): %s" % (
                name, rc, (err or out).strip()[-300:]))

    def monitor_dir(self, where, d):
        rc, out, err = run([self.a.monitor, "check-config", "--config-dir", d])
        bad = [x for x in out.splitlines() if not x.startswith("OK   ")]
        if rc != 0 or bad or not out:
            problem(where, "wormhole-monitor check-config refuses it (exit %d): %s" % (
                rc, " / ".join(bad) or err.strip() or "no file checked"))

    def monitor_instance(self, where, obj, text):
        d = os.path.join(self.tmp, "monitor-%d" % self.count)
        self.count += 1
        os.mkdir(d)
        with open(os.path.join(d, "example.json"), "w") as f:
            f.write(text)
        self.monitor_dir(where, d)
        if isinstance(obj, dict) and "publisher" in obj:
            self.publisher_config(where + " (its publisher object)", obj["publisher"])

    def filter(self, where, text):
        rc, out, err = run([self.a.logcat, "--binlog-dir", self.nolog, "--filter", text])
        if rc == 1 and "--filter" not in err:
            return      # parsed; then the log could not be opened
        problem(where, "wormhole-logcat --filter refuses %r (exit %d): %s" % (
            text, rc, err.strip()))

    def update(self, where, text, fields):
        try:
            u = json.loads(text)
        except ValueError as e:
            problem(where, "not JSON: %s" % e)
            return
        extra = [k for k in u if k not in fields]
        if extra or "op" not in u:
            problem(where, "an update with keys %s that docs/UPDATES.md does not list" % extra)


def update_fields():
    """The field names of the table under '## Fields' in docs/UPDATES.md."""
    text = read(os.path.join(ROOT, "docs", "UPDATES.md"))
    section = text.split("## Fields", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, re.M))


def command_lines(path):
    """Each command line of the file (code blocks and prose, with shell
    continuations joined) as (line number, text)."""
    bl, prose = blocks(path)
    lines = list(prose)
    for start, info, text in bl:
        joined, first = "", None
        for k, line in enumerate(text.split("\n")):
            if first is None:
                first = start + 1 + k
            if line.rstrip().endswith("\\"):
                joined += line.rstrip()[:-1] + " "
                continue
            lines.append((first, joined + line))
            joined, first = "", None
    return lines


def program_words(line):
    """(program, [words after it]) for each documented program on the line."""
    found = []
    for m in re.finditer(r"(?<![\w-])(?:[\w./-]*/)?(wormhole-(?:publisher|logcat|tail|monitor))"
                         r"(?![\w-])", line):
        rest = line[m.end():]
        rest = re.split(r"[|;&`]|\s#\s", rest)[0]      # the end of this command
        found.append((m.group(1), rest))
    return found


def check_examples(args):
    ck = Checker(args)
    fields = update_fields()
    n = 0
    for path in doc_files():
        bl, _ = blocks(path)
        for start, info, text in bl:
            where = "%s:%d" % (rel(path), start)
            words = info.split()
            lang = words[0] if words else ""
            role = words[1] if len(words) > 1 else ""
            if lang == "text" and role == "filter":
                ck.filter(where, text.strip())
                n += 1
                continue
            if lang != "json":
                continue
            if role not in JSON_ROLES:
                problem(where, "a ```json block must name what it is, one of: %s (found %r)" % (
                    ", ".join(JSON_ROLES), info))
                continue
            n += 1
            if role == "filter":
                dec, pos, body = json.JSONDecoder(), 0, text.strip()
                while pos < len(body):
                    try:
                        obj, end = dec.raw_decode(body, pos)
                    except ValueError as e:
                        problem(where, "not a JSON filter: %s" % e)
                        break
                    ck.filter(where, body[pos:end])
                    pos = end
                    while pos < len(body) and body[pos].isspace():
                        pos += 1
                continue
            if role == "update":
                ck.update(where, text, fields)
                continue
            if role in ("status", "fragment"):
                body = re.sub(r"(?<=[:\[,])\s*\.\.\.", " 0", text) if role == "status" \
                    else "{" + text.strip().rstrip(",") + "}"
                try:
                    json.loads(body)
                except ValueError as e:
                    problem(where, "not JSON (%s): %s" % (role, e))
                continue
            try:
                obj = json.loads(text)
            except ValueError as e:
                problem(where, "not JSON: %s" % e)
                continue
            if role == "publisher-config":
                ck.publisher_config(where, obj)
            elif role == "cache-config":
                ck.app_config(where, args.cache, "wormhole-cache", obj)
            elif role == "index-config":
                ck.app_config(where, args.index, "wormhole-index", obj)
            else:
                ck.monitor_instance(where, obj, text)
        # Filters quoted on the command lines of the two programs that take one.
        for line_no, line in command_lines(path):
            for prog, rest in program_words(line):
                if prog not in ("wormhole-logcat", "wormhole-tail"):
                    continue
                try:
                    argv = shlex.split(rest)
                except ValueError:
                    continue
                for k, w in enumerate(argv[:-1]):
                    if w == "--filter" and not re.fullmatch(r"[A-Z]+", argv[k + 1]):
                        ck.filter("%s:%d" % (rel(path), line_no), argv[k + 1])
                        n += 1
    # The monitor's example directory, and the publisher configs inside it.
    d = os.path.join(ROOT, "monitor", "dist", "example-config")
    ck.monitor_dir(rel(d), d)
    for p in sorted(glob.glob(os.path.join(d, "*.json"))):
        obj = json.loads(read(p))
        if "publisher" in obj:
            ck.publisher_config(rel(p) + " (its publisher object)", obj["publisher"])
        n += 1
    if n < 10:
        problem("docs", "only %d examples found: is the extraction broken?" % n)
    return n


PATH_REF = re.compile(r"(?<![\w/.$-])((?:docs|monitor|mappers|core|filters|publisher|subscriber|"
                      r"protocol|tools|tests|bench|scripts|include|apps|examples|\.ci)/[\w./*-]*(?:\{[\w,]+\})?)")
PLACEHOLDERS = {"NAME", "DIR", "FILE", "PATH", "SHARD", "APP", "INSTANCE"}


def check_links(args):
    n = 0
    for path in doc_files() + dist_files():
        if path.endswith(".8"):
            continue        # the manual page names installed paths; checked in flags
        text = read(path)
        for line_no, line in enumerate(text.split("\n"), 1):
            where = "%s:%d" % (rel(path), line_no)
            line = line.split("ninja -C")[0]    # build targets are not source paths
            for m in re.finditer(r"\[[^\]]*\]\(([^)\s]+)\)", line):
                target = m.group(1)
                if re.match(r"[a-z]+:", target):
                    continue                        # http:, mailto:, man: ...
                n += 1
                file_part, _, anchor = target.partition("#")
                dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) \
                    if file_part else path
                if not os.path.exists(dest):
                    problem(where, "link to %s, which does not exist" % target)
                elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                    problem(where, "link to %s: %s has no heading #%s" % (
                        target, rel(dest), anchor))
            for m in PATH_REF.finditer(line):
                ref = m.group(1).rstrip(".")
                stems = [os.path.splitext(s)[0] for s in ref.split("/")]
                if "<" in ref or any(s in PLACEHOLDERS for s in stems):
                    continue
                n += 1
                # "dir/name.{c,h}" names each of dir/name.c and dir/name.h
                brace = re.search(r"\{([\w,]+)\}$", ref)
                refs = [ref[:brace.start()] + alt for alt in brace.group(1).split(",")] \
                    if brace else [ref]
                for r in refs:
                    if not glob.glob(os.path.join(ROOT, r)):
                        problem(where, "names %s, which does not exist" % r)
    if n < 20:
        problem("docs", "only %d references found: is the extraction broken?" % n)
    return n


def help_text(exe):
    rc, out, err = run([exe, "--help"])
    if rc != 0 or "usage:" not in out:
        problem(exe, "--help exits %d or prints no usage on stdout" % rc)
    return out + err


def monitor_settings(helptext):
    """{key: (type, default, range, meaning)} from `wormhole-monitor --help`."""
    out = {}
    lines = helptext.split("Settings of an instance file:", 1)[1].strip("\n").split("\n")
    for head, desc in zip(lines[0::2], lines[1::2]):
        m = re.match(r"\s+(\S+)\s+(\w+)\s+default (.*?)(?:, range \[(-?\d+), (-?\d+)\])?$", head)
        if not m:
            problem("wormhole-monitor --help", "cannot read the setting line %r" % head)
            continue
        rng = "[%s, %s]" % (m.group(4), m.group(5)) if m.group(4) else ""
        out[m.group(1)] = (m.group(2), "`%s`" % m.group(3), rng, desc.strip())
    return out


def check_flags(args):
    exes = {"wormhole-publisher": args.publisher, "wormhole-logcat": args.logcat,
            "wormhole-tail": args.tail, "wormhole-monitor": args.monitor}
    helps = {k: help_text(v) for k, v in exes.items()}
    n = 0
    for path in doc_files():
        for line_no, line in command_lines(path):
            for prog, rest in program_words(line):
                for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest):
                    n += 1
                    if flag == "--help":
                        continue                # help_text ran it: it works
                    if not re.search(re.escape(flag) + r"(?![\w-])", helps[prog]):
                        problem("%s:%d" % (rel(path), line_no),
                                "%s %s is not in `%s --help`" % (prog, flag, prog))
    if n < 20:
        problem("docs", "only %d flags found: is the extraction broken?" % n)

    # docs/MONITOR.md's settings table is the one the monitor prints.
    mon = monitor_settings(helps["wormhole-monitor"])
    text = read(os.path.join(ROOT, "docs", "MONITOR.md"))
    doc = {}
    for m in re.finditer(r"^\| `([\w.]+)` \| (\w+) \| (`.*?`) \| (.*?) \| (.*) \|$", text, re.M):
        doc[m.group(1)] = (m.group(2), m.group(3), m.group(4).strip(), m.group(5).strip())
    if doc != mon:
        for k in sorted(set(doc) | set(mon)):
            if doc.get(k) != mon.get(k):
                problem("docs/MONITOR.md", "setting %s: the table says %r, wormhole-monitor "
                        "--help says %r" % (k, doc.get(k), mon.get(k)))
    n += len(mon)

    # docs/MYSQL.md and docs/ROCKSDB.md list exactly the options of their
    # mapper, as `wormhole-logcat --help` prints them.
    for mapper, doc_name in (("mysql", "MYSQL.md"), ("rocksdb", "ROCKSDB.md")):
        sect = helps["wormhole-logcat"].split("options of mapper '%s':\n" % mapper, 1)
        if len(sect) < 2:
            problem("wormhole-logcat --help", "lists no options of mapper %s" % mapper)
            continue
        keys = set(re.findall(r"^  (\w+) ", sect[1].split("\n\n", 1)[0], re.M))
        text = read(os.path.join(ROOT, "docs", doc_name))
        table = text.split("## Options", 1)[1].split("\n## ", 1)[0]
        listed = set()
        for m in re.finditer(r"^\| (`\w+`(?:, `\w+`)*) \|", table, re.M):
            listed |= set(re.findall(r"`(\w+)`", m.group(1)))
        n += len(keys)
        if listed != keys:
            problem("docs/" + doc_name, "the options table lists %s; the %s mapper has %s" % (
                sorted(listed), mapper, sorted(keys)))

    # The manual page: clean roff, every option and setting of --help.
    man = os.path.join(ROOT, "monitor", "dist", "wormhole-monitor.8")
    rc, out, err = run(["groff", "-man", "-Tutf8", "-ww", "-z", man])
    if rc != 0 or err.strip():
        problem(rel(man), "groff -man -ww: exit %d: %s" % (rc, err.strip()))
    page = read(man).replace("\\-", "-")
    for flag in set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", helps["wormhole-monitor"])):
        if flag not in page:
            problem(rel(man), "does not describe %s of `wormhole-monitor --help`" % flag)
    for cmd in ("status", "rolling-restart", "reload", "check-config"):
        if ".B %s" % cmd not in page:
            problem(rel(man), "does not describe the command %s" % cmd)
    for key in mon:
        if key not in page:
            problem(rel(man), "does not name the setting %s" % key)
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["examples", "links", "flags"])
    for p in ("publisher", "monitor", "logcat", "tail", "cache", "index"):
        ap.add_argument("--" + p)
    args = ap.parse_args()
    try:
        n = {"examples": check_examples, "links": check_links,
             "flags": check_flags}[args.mode](args)
    finally:
        for d in glob.glob(os.path.join(tempfile.gettempdir(), "wh-docs-%d-*" % os.getpid())):
            shutil.rmtree(d, ignore_errors=True)
    for p in problems:
        print(p)
    print("docs_%s: %d checked, %d problems" % (args.mode, n, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
