#!/usr/bin/env python3
"""check_abi.py -- libwormhole.so exports exactly what include/wormhole/*.h declares.

    check_abi.py NM LIBRARY INCLUDE_DIR [CC ...]

Compares the dynamic symbols the built library defines (NM -D --defined-only)
with the functions and extern variables the public headers declare (the
parser of scripts/public_symbols.py, which also writes the library's version
script). Any difference fails, in either direction: an exported symbol no
public header declares (an internal leaking into the ABI), or a declared one
the library does not export (missing, or hidden). A function must be
exported as code, a variable as data.

With CC (the C compiler's command) and a compiler that has GCC's -aux-info,
the header parser itself is checked too: the functions the compiler sees
declared in the public headers (static inline ones aside) must be the ones
the parser found, so a prototype the parser misreads cannot drop out of the
ABI and of this comparison unnoticed.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import public_symbols  # noqa: E402  (scripts/public_symbols.py)

CODE_TYPES = set("TtWiI")      # nm: text (also weak and indirect functions)
DATA_TYPES = set("DdBbRrGgSsVv")


def exported_symbols(nm, lib):
    """{name: nm type letter} of the library's defined dynamic symbols."""
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        kind, name = parts[-2], parts[-1].split("@")[0]
        if kind == "A":
            continue                    # version node names, not symbols
        syms[name] = kind
    return syms


def compiler_functions(cc, include_dir):
    """The non-static functions the compiler sees declared in the headers of
    include_dir, or None if the compiler has no -aux-info."""
    headers = public_symbols.public_headers(include_dir)
    parent = os.path.dirname(os.path.abspath(include_dir))
    folder = os.path.basename(os.path.normpath(include_dir))
    with tempfile.TemporaryDirectory() as tmp:
        tu = os.path.join(tmp, "all_headers.c")
        with open(tu, "w", encoding="utf-8") as f:
            for h in headers:
                f.write(f'#include "{folder}/{os.path.basename(h)}"\n')
        aux = os.path.join(tmp, "aux.txt")
        base = cc + ["-std=c17", "-I", parent, "-fsyntax-only"]
        r = subprocess.run(base + ["-aux-info", aux, tu], capture_output=True, text=True)
        if r.returncode != 0:
            plain = subprocess.run(base + [tu], capture_output=True, text=True)
            if plain.returncode != 0:
                raise RuntimeError("the public headers do not compile on their own:\n" +
                                   plain.stderr)
            return None                 # the headers are fine: no -aux-info (clang)
        with open(aux, encoding="utf-8") as f:
            lines = f.read().splitlines()
    real = {os.path.realpath(h) for h in headers}
    found = set()
    for line in lines:
        m = re.match(r"/\* (.*):\d+:[A-Z]+ \*/ (.*)$", line)
        if not m or os.path.realpath(m.group(1)) not in real:
            continue
        decl = m.group(2)
        if re.match(r"(static|inline)\b", decl):
            continue
        names = [n for n in re.findall(r"([A-Za-z_]\w*) \(", decl)
                 if n not in public_symbols.NOT_NAMES]
        if not names:
            raise RuntimeError(f"cannot read the compiler's declaration: {line}")
        found.add(names[0])
    return found


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    nm, lib, include_dir, cc = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    failures = []

    try:
        declared = public_symbols.public_symbols(include_dir)
    except public_symbols.HeaderError as e:
        print(f"FAIL: {e}")
        return 1
    exported = exported_symbols(nm, lib)

    for name in sorted(set(exported) - set(declared)):
        failures.append(f"exported but declared in no public header: {name} "
                        f"(nm type {exported[name]})")
    for name in sorted(set(declared) - set(exported)):
        failures.append(f"declared in {include_dir} but not exported: {declared[name]} {name}")
    for name in sorted(set(declared) & set(exported)):
        want = CODE_TYPES if declared[name] == "function" else DATA_TYPES
        if exported[name] not in want:
            failures.append(f"{declared[name]} {name} is exported with nm type {exported[name]}")

    if cc:
        seen = compiler_functions(cc, include_dir)
        if seen is None:
            print(f"note: {' '.join(cc)} has no -aux-info; the header parser is not cross-checked")
        else:
            parsed = {n for n, k in declared.items() if k == "function"}
            for name in sorted(seen - parsed):
                failures.append(f"the compiler sees function {name} declared in a public header; "
                                "scripts/public_symbols.py missed it")
            for name in sorted(parsed - seen):
                failures.append(f"scripts/public_symbols.py found function {name}, which the "
                                "compiler does not see declared in a public header")

    print(f"{lib}: {len(exported)} exported, {len(declared)} declared in {include_dir}")
    for f in failures:
        print(f"FAIL: {f}")
    good = sum(1 for n in set(declared) & set(exported)
               if exported[n] in (CODE_TYPES if declared[n] == "function" else DATA_TYPES))
    print(f"check_abi: {good} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
