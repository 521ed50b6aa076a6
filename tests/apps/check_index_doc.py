#!/usr/bin/env python3
"""Checks that docs/APPS.md carries wormhole-index's settings tables exactly as the code has them.

Usage: check_index_doc.py WORMHOLE_INDEX_EXE APPS_MD
"""
import subprocess
import sys


def main(exe, doc):
    table = subprocess.run([exe, "--config-markdown"], capture_output=True, text=True,
                           check=True).stdout
    with open(doc) as f:
        text = f.read()
    begin, end = "<!-- index-config:begin -->\n", "<!-- index-config:end -->"
    if begin not in text or end not in text:
        print("%s: markers %r and %r are missing" % (doc, begin.strip(), end))
        return 1
    section = text.split(begin, 1)[1].split(end, 1)[0]
    if section != table:
        print("%s: the wormhole-index settings tables differ from `%s --config-markdown`;"
              " regenerate them" % (doc, exe))
        return 1
    print("index_config_doc: %d lines in step" % table.count("\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
