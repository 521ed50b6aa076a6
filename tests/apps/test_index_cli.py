#!/usr/bin/env python3
"""Unit test of wormhole-index's command line, config checks and SQLite schema (no servers).

Usage: test_index_cli.py WORMHOLE_INDEX_EXE

--help is a manual page; bad usage exits 2; each bad config exits 1 with one
ERROR line naming the file, the key and the reason; --check creates the index
in an SQLite file and prints the filter; an index whose tables no longer match
the config is refused with exit status 1.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "harness"))
from checks import check, done, eq  # noqa: E402

EXE = sys.argv[1] if len(sys.argv) > 1 else ""


def run(*args):
    r = subprocess.run([EXE] + list(args), capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def base(tmp):
    return {"zookeeper": {"connect": "127.0.0.1:1"}, "subscriber": {"app": "idx"},
            "sqlite": {"path": os.path.join(tmp, "i.db")},
            "tables": [{"source": "app.docs", "key": ["id"], "text": ["title", "body"],
                        "stored": ["author"]},
                       {"source": "app.notes", "name": "notes_idx", "key": ["a", "b"],
                        "text": ["txt"]}]}


def write(tmp, cfg, name="c.json"):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(cfg if isinstance(cfg, str) else json.dumps(cfg))
    return path


def main():
    rc, out, _ = run("--help")
    eq(rc, 0, "--help exits 0")
    for sec in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "CONFIG", "EXIT STATUS",
                "EXAMPLES"):
        check("\n" + sec + "\n" in "\n" + out, "--help has the section %s" % sec)
    check("sqlite.synchronous" in out and "stored" in out, "--help lists the settings")
    eq(run()[0], 2, "no --config: exit 2")
    eq(run("--config")[0], 2, "--config without a file: exit 2")
    eq(run("--bogus", "--config", "x")[0], 2, "an unknown option: exit 2")
    eq(run("--config", "x", "extra")[0], 2, "an extra argument: exit 2")

    with tempfile.TemporaryDirectory() as tmp:
        # Bad configs: exit 1, one ERROR line naming the key and the reason.
        def bad(mutate, key, why, name="bad.json"):
            cfg = base(tmp)
            mutate(cfg)
            rc, _, err = run("--config", write(tmp, cfg, name), "--check")
            lines = [x for x in err.splitlines() if " ERROR " in x]
            check(rc == 1 and len(lines) == 1 and key in lines[0] and why in lines[0],
                  "bad %s: exit 1 and one ERROR line with %r (got %d, %r)"
                  % (key, why, rc, err.strip()[-300:]))

        bad(lambda c: c.update(backend={"type": "mysql"}), "backend.type", "not sqlite")
        bad(lambda c: c["sqlite"].update(path=""), "sqlite.path", "required")
        bad(lambda c: c["sqlite"].update(synchronous="sometimes"), "sqlite.synchronous",
            "is not off")
        bad(lambda c: c.update(tables=[]), "tables", "one or more")
        bad(lambda c: c["tables"][0].update(source="docs"), "source", "is not db.table")
        bad(lambda c: c["tables"][0].update(key=[]), "key", "one or more")
        bad(lambda c: c["tables"][0].update(text=["body", "body"]), "text", "listed twice")
        bad(lambda c: c["tables"][0].update(stored=["id"]), "stored", "listed twice")
        bad(lambda c: c["tables"][0].update(text=["bad name"]), "text", "not a column name")
        bad(lambda c: c["tables"][0].update(stored=["wh_rowid"]), "stored", "reserved")
        bad(lambda c: c["tables"][1].update(name="docs"), "tables[1]", "also the index of")
        bad(lambda c: c["tables"][1].update(source="app.docs", name="d2"), "tables[1]",
            "indexed twice")
        bad(lambda c: c["tables"][0].update(name="wormhole_x"), "name", "own tables")
        bad(lambda c: c["tables"][0].update(colour="red"), "colour", "unknown setting")
        bad(lambda c: c.update(subscriber={"app": "idx", "shards": "s1"}), "subscriber.shards",
            "array")
        bad(lambda c: c.update(backend={"retry_min_ms": 5000, "retry_max_ms": 100}),
            "backend.retry_min_ms", "more than")
        bad(lambda c: c.pop("tables"), "tables", "required")
        bad(lambda c: c.update(log={"level": "loud"}), "log.level", "is not error")
        rc, _, err = run("--config", write(tmp, "{\"zookeeper\": ", "syntax.json"), "--check")
        check(rc == 1 and "syntax.json:1:" in err, "a JSON syntax error names the line (%r)"
              % err.strip()[-200:])

        # --check creates the index and prints the filter.
        path = write(tmp, base(tmp))
        rc, out, err = run("--config", path, "--check")
        eq(rc, 0, "--check on a good config exits 0 (%s)" % err.strip()[-300:])
        check('(db = "app" and table = "docs") or (db = "app" and table = "notes") or '
              'op = "ddl"' in out, "--check prints the filter: %r" % out)
        con = sqlite3.connect(os.path.join(tmp, "i.db"))
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        for t in ("docs", "docs_fts", "notes_idx", "notes_idx_fts", "wormhole_positions",
                  "wormhole_counts"):
            check(t in names, "the index has table %s" % t)
        cols = [r[1] for r in con.execute("PRAGMA table_info(docs)")]
        eq(cols, ["wh_rowid", "id", "title", "body", "author"], "columns of docs")
        con.close()
        rc, _, _ = run("--config", path, "--check")
        eq(rc, 0, "--check again on the same index (schema already there)")

        # --check answers at once when the backend cannot be reached.
        cfg = base(tmp)
        cfg["backend"] = {"type": "postgresql"}
        cfg["postgresql"] = {"conninfo": "host=%s port=1 dbname=x" % tmp}
        rc, _, err = run("--config", write(tmp, cfg, "pg.json"), "--check")
        check(rc == 1 and "cannot connect" in err,
              "--check against an unreachable PostgreSQL exits 1 (%d, %r)"
              % (rc, err.strip()[-200:]))

        # The config changes under an existing index: refused, with what to do.
        cfg = base(tmp)
        cfg["tables"][0]["stored"] = ["author", "price"]
        rc, _, err = run("--config", write(tmp, cfg, "changed.json"), "--check")
        check(rc == 1 and "index table docs has the columns" in err and "drop it" in err,
              "a changed column list is refused with exit 1 (%r)" % err.strip()[-300:])

        # The index file cannot be created: the app retries until stopped (SIGTERM: exit 0).
        cfg = base(tmp)
        cfg["sqlite"]["path"] = os.path.join(tmp, "missing", "dir", "i.db")
        cfg["backend"] = {"retry_min_ms": 50, "retry_max_ms": 100}
        p = subprocess.Popen([EXE, "--config", write(tmp, cfg, "nodir.json")],
                             stderr=subprocess.PIPE, text=True)
        try:
            p.wait(timeout=1.5)
            check(False, "the app keeps retrying an index it cannot open")
        except subprocess.TimeoutExpired:
            p.terminate()
            err = p.communicate(timeout=30)[1]
            check(p.returncode == 0 and "cannot open" in err and "retrying" in err,
                  "an index that cannot be opened is retried with backoff; SIGTERM stops with "
                  "0 (%d, %r)" % (p.returncode, err.strip()[-200:]))
    return done("test_index_cli")


if __name__ == "__main__":
    sys.exit(main())
