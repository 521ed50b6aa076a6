#!/usr/bin/env python3
"""Checks that docs/CONFIG.md carries the publisher's settings table exactly as the code has it.

Usage: check_config_doc.py PUBLISHER_EXE CONFIG_MD
"""
import subprocess
import sys


def main(exe, doc):
    table = subprocess.run([exe, "--config-markdown"], capture_output=True, text=True,
                           check=True).stdout
    text = open(doc).read()
    begin, end = "<!-- publisher-config:begin -->\n", "<!-- publisher-config:end -->"
    if begin not in text or end not in text:
        print("%s: markers %r and %r are missing" % (doc, begin.strip(), end))
        return 1
    section = text.split(begin, 1)[1].split(end, 1)[0]
    if section != table:
        print("%s: the publisher settings table differs from `%s --config-markdown`;"
              " regenerate it" % (doc, exe))
        return 1
    print("config_doc: %d settings in step" % (table.count("\n") - 2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
