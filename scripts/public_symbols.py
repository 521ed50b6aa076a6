#!/usr/bin/env python3
"""public_symbols.py -- the symbols libwormhole exports: every function (and
extern variable) declared in a public header, include/wormhole/*.h.

The build runs it to write the linker version script of libwormhole.so, so
the library exports exactly what its installed headers declare: whatever else
it is built from (core, filters, protocol) stays local, whatever its prefix.
tests/publisher/check_abi.py imports it to compare the built library with the
headers.

    public_symbols.py --version-script OUT [--depfile DEP] INCLUDE_DIR
    public_symbols.py --list INCLUDE_DIR

Every *.h in INCLUDE_DIR is read: a new public header needs no edit here or
in meson (the depfile names the directory itself, so adding a header reruns
the generator). The parser reads C declarations the way the headers are
written: comments, preprocessor lines (also continued ones), extern "C"
blocks, struct/union/enum bodies, typedefs (function pointer types included),
static inline functions (not exported), __attribute__((...)) and multi-line
prototypes. It fails loudly (exit status 1, the reason on stderr) when a
header cannot be read as such, when a public name lacks the wh_ prefix, or
when it finds no function at all.
"""
import argparse
import os
import re
import sys

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
EXTERN_C = re.compile(r'extern\s*"C(\+\+)?"\s*\{')
# Words that are never the declared name (C keywords, qualifiers, attributes).
NOT_NAMES = {
    "auto", "char", "const", "double", "enum", "extern", "float", "inline", "int", "long",
    "register", "restrict", "short", "signed", "static", "struct", "typedef", "union",
    "unsigned", "void", "volatile", "_Bool", "_Atomic", "_Noreturn", "_Thread_local",
    "__restrict", "__restrict__", "__inline", "__inline__", "__extension__", "noreturn",
}
# Attribute-like forms removed before a declaration is read.
ATTRIBUTES = ("__attribute__", "__attribute", "__declspec", "__asm__", "__asm", "asm",
              "_Alignas", "alignas")


class HeaderError(Exception):
    """A header that cannot be read as the declarations this parser knows."""


def strip_comments(text, path):
    """Removes /* */ and // comments (keeping newlines, and string and
    character literals intact)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise HeaderError(f"{path}: unterminated comment")
            out.append("\n" * text.count("\n", i, end) or " ")
            i = end + 2
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise HeaderError(f"{path}: unterminated literal")
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip_preprocessor(text):
    """Removes preprocessor lines, including their backslash continuations."""
    out, cont = [], False
    for line in text.split("\n"):
        directive = cont or line.lstrip().startswith("#")
        cont = directive and line.rstrip().endswith("\\")
        out.append("" if directive else line)
    return "\n".join(out)


def skip_group(s, i, path):
    """s[i] is an opening bracket; returns the index just past its match."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = []
    while i < len(s):
        c = s[i]
        if c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            if not stack or stack.pop() != c:
                raise HeaderError(f"{path}: unbalanced '{c}'")
            if not stack:
                return i + 1
        i += 1
    raise HeaderError(f"{path}: unbalanced brackets at end of file")


def top_level_declarations(text, path):
    """Splits the file into its top-level declarations (text up to ';' or,
    for a function definition, up to its body). Braces of extern "C" blocks
    are transparent; aggregate and function bodies are kept as '{}' so the
    caller can tell a definition from a declaration."""
    decls, cur = [], []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        m = EXTERN_C.match(text, i)
        if m and not "".join(cur).strip():
            i = m.end()                     # opens a transparent block
            continue
        if c == "}" and not "".join(cur).strip():
            i += 1                          # closes an extern "C" block
            continue
        if c in "([":
            j = skip_group(text, i, path)
            cur.append(text[i:j])
            i = j
        elif c == "{":
            j = skip_group(text, i, path)
            cur.append("{}")
            i = j
            head = "".join(cur)
            # A function definition ends at its body; an aggregate goes on
            # (its declarators or ';' follow).
            if re.search(r"\)\s*(__attribute__\s*\(\(.*\)\)\s*)*\{\}$", head, re.S) and \
                    not re.match(r"\s*(typedef|struct|union|enum)\b", head):
                decls.append(head)
                cur = []
        elif c == ";":
            decls.append("".join(cur))
            cur = []
            i += 1
        elif c in ")]}":
            raise HeaderError(f"{path}: unbalanced '{c}'")
        else:
            cur.append(c)
            i += 1
    if "".join(cur).strip():
        raise HeaderError(f"{path}: declaration not closed by ';' at end of file: "
                          f"{' '.join(''.join(cur).split())[:80]}")
    return [" ".join(d.split()) for d in decls if d.strip()]


def remove_attributes(decl):
    """Drops __attribute__((...)) and similar forms from one declaration."""
    out, i = [], 0
    while i < len(decl):
        m = IDENT.match(decl, i)
        if m and (i == 0 or not (decl[i - 1].isalnum() or decl[i - 1] == "_")):
            word = m.group(0)
            j = m.end()
            if word in ATTRIBUTES:
                while j < len(decl) and decl[j] == " ":
                    j += 1
                if j < len(decl) and decl[j] == "(":
                    i = skip_group(decl, j, "declaration")
                    out.append(" ")
                    continue
            out.append(word)
            i = j
        else:
            out.append(decl[i])
            i += 1
    return " ".join("".join(out).split())


def declared_name(decl, path):
    """Returns (kind, name) for one top-level declaration: kind 'function'
    or 'variable', or None for what declares no symbol (typedefs, static
    functions, aggregate and enum definitions)."""
    decl = remove_attributes(decl)
    words = set(IDENT.findall(decl.split("(", 1)[0]))
    if "typedef" in words or "static" in words:
        return None
    if re.fullmatch(r"(struct|union|enum)\s+\w*\s*\{\}", decl) or \
            re.fullmatch(r"(struct|union|enum)\s+\w+", decl):
        return None                         # a tag's definition or forward declaration
    if decl.endswith("{}") and "(" in decl:
        raise HeaderError(f"{path}: a public header defines the non-static function "
                          f"'{decl[:80]}'; declare it here and define it in a .c file")
    paren = decl.find("(")
    if paren < 0:
        # An object: the last identifier before any array bound or initializer.
        head = re.split(r"[\[=]", decl, maxsplit=1)[0]
        names = [w for w in IDENT.findall(head) if w not in NOT_NAMES]
        if not names or "extern" not in decl.split():
            raise HeaderError(f"{path}: cannot read the declaration '{decl[:80]}' "
                              "(a public header declares objects only as extern)")
        return ("variable", names[-1])
    before = decl[:paren].rstrip()
    m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)$", before)
    if m and m.group(1) not in NOT_NAMES:
        return ("function", m.group(1))
    # "T (*name)(...)" is a function pointer object; "T (*name(args))(...)"
    # a function returning a function pointer.
    inner = decl[paren + 1:skip_group(decl, paren, path) - 1]
    m = re.match(r"\s*\*\s*(?:const\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(\()?", inner)
    if not m:
        raise HeaderError(f"{path}: cannot read the declaration '{decl[:80]}'")
    if m.group(2):
        return ("function", m.group(1))
    if "extern" not in decl.split():
        raise HeaderError(f"{path}: cannot read the declaration '{decl[:80]}'")
    return ("variable", m.group(1))


def header_symbols(path):
    """The (kind, name) pairs one header declares, in file order."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise HeaderError(f"{path}: cannot read: {e}") from None
    text = strip_preprocessor(strip_comments(text, path))
    out = []
    for decl in top_level_declarations(text, path):
        sym = declared_name(decl, path)
        if sym:
            if not sym[1].startswith("wh_"):
                raise HeaderError(f"{path}: public {sym[0]} '{sym[1]}' lacks the wh_ prefix "
                                  "(docs/CONVENTIONS.md: Names)")
            out.append(sym)
    return out


def public_headers(include_dir):
    """Every *.h directly in include_dir, sorted; fails if there is none."""
    try:
        names = sorted(n for n in os.listdir(include_dir) if n.endswith(".h"))
    except OSError as e:
        raise HeaderError(f"{include_dir}: cannot list: {e}") from None
    if not names:
        raise HeaderError(f"{include_dir}: no public header (*.h) found")
    return [os.path.join(include_dir, n) for n in names]


def public_symbols(include_dir):
    """{name: kind} for every public header; fails if no function is found."""
    syms = {}
    for path in public_headers(include_dir):
        for kind, name in header_symbols(path):
            if syms.get(name, kind) != kind:
                raise HeaderError(f"{path}: '{name}' is declared as a function and a variable")
            syms[name] = kind
    if not any(k == "function" for k in syms.values()):
        raise HeaderError(f"{include_dir}: no function declared in any public header; "
                          "refusing to write an empty export list")
    return syms


def version_script(syms, include_dir):
    lines = [f"/* Generated by scripts/public_symbols.py from {include_dir}/*.h: do not edit.",
             " * libwormhole exports exactly what its public headers declare. */",
             "{", "  global:"]
    lines += [f"    {name};" for name in sorted(syms)]
    lines += ["  local:", "    *;", "};", ""]
    return "\n".join(lines)


def write_file(path, text):
    """Writes path whole or not at all."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def depfile_path(p):
    return p.replace("\\", "\\\\").replace(" ", "\\ ").replace("$", "$$")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("include_dir", help="the folder of public headers (include/wormhole)")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--version-script", metavar="OUT", help="write a linker version script")
    mode.add_argument("--list", action="store_true", help="print 'kind name' lines")
    ap.add_argument("--depfile", help="with --version-script: write a Makefile-style depfile")
    args = ap.parse_args()
    include_dir = os.path.normpath(args.include_dir)
    try:
        syms = public_symbols(include_dir)
    except HeaderError as e:
        print(f"public_symbols.py: {e}", file=sys.stderr)
        return 1
    if args.list:
        for name in sorted(syms):
            print(syms[name], name)
        return 0
    write_file(args.version_script, version_script(syms, include_dir))
    if args.depfile:
        deps = [include_dir] + public_headers(include_dir)
        with open(args.depfile, "w", encoding="utf-8") as f:
            f.write(depfile_path(args.version_script) + ": " +
                    " ".join(depfile_path(d) for d in deps) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
