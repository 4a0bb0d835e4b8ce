#!/usr/bin/env python3
"""check-layers.py - the shape of src/, checked (docs/ARCHITECTURE.md).

1. Every #include "x.h" in src/ points down or within its layer (RULES).
2. No cycle between modules: from the libraries' symbol tables (nm), a
   module needing a symbol another defines is an arrow; no two modules may
   reach each other, and no arrow may point up.  Nor by includes, a .c
   and its .h taken as one module.
3. No file in src/ over MAX_LINES lines, no function body over MAX_BODY.
4. What foo.c offers is declared in foo.h, not in a shared state header.

TAP on stdout; each failure names the file, the line and the rule.
    check-layers.py [--stats] [--layout FILE] [TOP [BUILDDIR]]
--stats prints the include graph in numbers instead (cycles, upward
arrows, the longest include chain of master_state.h); --layout maps flat
file names to layers ("layer name name ..." per line), to measure a tree
from before the folders.
"""
import glob
import os
import re
import subprocess
import sys

# Bottom to top.  A layer may include its own headers and those of the
# layers it lists; "client" is the client's, which links common/ only.
RULES = {
    "common": [],
    "ipc":    ["common"],
    "log":    ["common", "ipc"],
    "sys":    ["common", "ipc", "log"],
    "conf":   ["common", "ipc", "log", "sys"],
    "worker": ["common", "ipc", "log", "sys", "conf"],
    "obs":    ["common", "ipc", "log", "sys", "conf"],
    "master": ["common", "ipc", "log", "sys", "conf", "worker", "obs"],
    "main":   ["common", "ipc", "log", "sys", "conf", "worker", "obs",
               "master"],
    "client": ["common"],
}
MAX_LINES = 600
MAX_BODY = 60
INCLUDE = re.compile(r'\s*#\s*include\s+"([^"]+)"')


def sources(top, layout):
    """{path relative to top: layer} for every .c and .h of src/."""
    out = {}
    for path in glob.glob(os.path.join(top, "src", "**", "*.[ch]"),
                          recursive=True):
        rel = os.path.relpath(path, top)
        parts = rel.split(os.sep)
        if len(parts) == 2:
            base = os.path.splitext(parts[1])[0]
            layer = layout.get(base, "main" if base == "main" else None)
            if layer is None:
                continue
        else:
            layer = parts[1]
        if layer in RULES:
            out[rel] = layer
    return out


def includes(top, files):
    """[(file, line number, included file)] for headers found in src/."""
    by_name = {}
    for rel in files:
        by_name.setdefault(os.path.basename(rel), rel)
    arrows = []
    for rel in sorted(files):
        with open(os.path.join(top, rel), errors="replace") as f:
            for n, text in enumerate(f, 1):
                m = INCLUDE.match(text)
                if not m:
                    continue
                name = m.group(1)
                target = os.path.normpath(os.path.join(os.path.dirname(rel),
                                                       name))
                if target not in files:
                    target = by_name.get(os.path.basename(name))
                if target is not None and target != rel:
                    arrows.append((rel, n, target))
    return arrows


def module_cycles(arrows):
    """Cycles between modules by their includes: a module is a .c and its
    .h (a header alone is a module too), so foo.c including bar.h while
    bar.c includes foo.h is a cycle even where no call makes one."""
    graph = {}
    for rel, _, target in arrows:
        a, b = os.path.splitext(rel)[0], os.path.splitext(target)[0]
        if a != b:
            graph.setdefault(a, set()).add(b)
    return ["modules include each other (a cycle): %s" % " <-> ".join(c)
            for c in cycles(graph)]


def allowed(frm, to):
    return frm == to or to in RULES[frm]


def include_failures(files, arrows):
    bad = []
    for rel, n, target in arrows:
        a, b = files[rel], files[target]
        if not allowed(a, b):
            may = ", ".join(RULES[a]) or "nothing below it"
            bad.append("%s:%d: includes %s: %s may use %s only" %
                       (rel, n, target, a, may))
    return bad


# -- modules, from the symbol tables --------------------------------------

def module_of(obj):
    """libworker_a-conn.o -> conn; main.o -> main."""
    name = os.path.basename(obj)
    name = re.sub(r"^lib\w+_a-", "", name)
    name = re.sub(r"^\w+-(?=main\.o$)", "", name)
    return os.path.splitext(name)[0]


def symbol_graph(builddir, files):
    """{module: set of modules whose symbols it needs}, or None unbuilt."""
    libs = sorted(glob.glob(os.path.join(builddir, "src", "lib*.a")))
    layered = [lib for lib in libs if not lib.endswith("libechod.a")]
    if len(layered) > 1:
        libs = layered		# a stale libechod.a from before the layers
    if not libs:
        return None
    defined, needed = {}, {}
    for lib in libs:
        out = subprocess.run(["nm", "-A", "--defined-only", "-g", lib],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            where, _, rest = line.rpartition(":")
            mod = module_of(where.split(":")[-1])
            fields = rest.split()
            if len(fields) == 3:
                defined[fields[2]] = mod
        out = subprocess.run(["nm", "-A", "--undefined-only", lib],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            where, _, rest = line.rpartition(":")
            mod = module_of(where.split(":")[-1])
            fields = rest.split()
            if fields:
                needed.setdefault(mod, set()).add(fields[-1])
    graph = {}
    for mod, syms in needed.items():
        graph[mod] = {defined[s] for s in syms
                      if s in defined and defined[s] != mod}
    for mod in defined.values():
        graph.setdefault(mod, set())
    return graph


def cycles(graph):
    """The strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def module_layers(files):
    """{module name: layer} from the .c files."""
    return {os.path.splitext(os.path.basename(rel))[0]: layer
            for rel, layer in files.items() if rel.endswith(".c")}


def symbol_failures(graph, files):
    layer = module_layers(files)
    bad = []
    for comp in cycles(graph):
        bad.append("modules need each other (a cycle): %s" %
                   " <-> ".join(comp))
    for mod in sorted(graph):
        for dep in sorted(graph[mod]):
            a, b = layer.get(mod), layer.get(dep)
            if a and b and not allowed(a, b):
                bad.append("%s.o needs %s.o: %s may use %s only" %
                           (mod, dep, a, ", ".join(RULES[a]) or "nothing"))
    return bad


# -- sizes ------------------------------------------------------------------

def function_bodies(path):
    """[(name, first line, body lines)]: a body opens with "{" at column 0
    and ends with "}" at column 0, as style(9) writes functions."""
    with open(path, errors="replace") as f:
        lines = f.read().split("\n")
    out, start = [], None
    for i, text in enumerate(lines):
        if text == "{":
            start = i
        elif text.startswith("}") and start is not None:
            j = start - 1
            while j > 0 and "(" not in lines[j]:
                j -= 1
            head = lines[j].split("(")[0].split()
            out.append((head[-1] if head else "?", start + 1, i - start - 1))
            start = None
    return out


def size_failures(top, files):
    bad = []
    for rel in sorted(files):
        path = os.path.join(top, rel)
        with open(path, errors="replace") as f:
            n = sum(1 for _ in f)
        if n > MAX_LINES:
            bad.append("%s: %d lines, over %d: split it" %
                       (rel, n, MAX_LINES))
        if rel.endswith(".c"):
            for name, line, body in function_bodies(path):
                if body > MAX_BODY:
                    bad.append("%s:%d: %s() has %d lines, over %d" %
                               (rel, line, name, body, MAX_BODY))
    return bad


def definitions(path):
    """[(name, line)] of the functions path defines and does not keep
    static: style(9) puts the type on the line above the name."""
    with open(path, errors="replace") as f:
        lines = f.read().split("\n")
    out = []
    for i, text in enumerate(lines):
        m = re.match(r"([A-Za-z_]\w*)\(", text)
        if not m or i == 0 or not lines[i - 1].strip() or m.group(1).isupper():
            continue
        above = lines[i - 1]
        if above[0] in " \t#/*}" or above.rstrip().endswith((";", ",", "\\")):
            continue
        if "static" in above.split() or "typedef" in above.split():
            continue
        j = i
        while j < len(lines) and lines[j] not in ("{", "") and \
                not lines[j].endswith(";"):
            j += 1
        if j < len(lines) and lines[j] == "{":
            out.append((m.group(1), i + 1))
    return out


def header_failures(top, files):
    """A module's functions are declared in its own header, once: a header
    that declared the functions of several files (master_state.h did) hid
    which file needs which."""
    bad = []
    comment = re.compile(r"/\*.*?\*/", re.S)
    headers = {rel: comment.sub("", open(os.path.join(top, rel),
                                         errors="replace").read())
               for rel in files if rel.endswith(".h")}
    for rel in sorted(files):
        if not rel.endswith(".c") or os.path.basename(rel) == "main.c":
            continue
        own = rel[:-2] + ".h"
        # a family of files may share its first file's header: conf.h
        # declares confresolve.c's, control.h control_file.c's
        family = [h for h in headers if os.path.dirname(h) ==
                  os.path.dirname(rel) and os.path.basename(rel[:-2]).
                  startswith(os.path.basename(h[:-2]))]
        for name, line in definitions(os.path.join(top, rel)):
            if name == "main":
                continue
            decl = re.compile(r"\b%s\s*\(" % re.escape(name))
            where = [h for h, text in headers.items() if decl.search(text)]
            if own not in where and not set(family) & set(where):
                bad.append("%s:%d: %s() is not declared in %s" %
                           (rel, line, name, own))
            for h in where:
                if h != own and files.get(h) == files[rel] and \
                        h.endswith("_state.h"):
                    bad.append("%s: declares %s() of %s: a module's "
                               "functions go in its own header" %
                               (h, name, rel))
    return bad


# -- numbers ------------------------------------------------------------------

def longest_chain(arrows, start):
    graph = {}
    for rel, _, target in arrows:
        graph.setdefault(rel, set()).add(target)
    memo = {}

    def depth(v, seen):
        if v in memo:
            return memo[v]
        best = [v]
        for w in sorted(graph.get(v, ())):
            if w in seen:
                continue
            chain = [v] + depth(w, seen | {w})
            if len(chain) > len(best):
                best = chain
        memo[v] = best
        return best

    chain = depth(start, {start})
    reach, todo = set(), [start]
    while todo:
        for w in graph.get(todo.pop(), ()):
            if w not in reach:
                reach.add(w)
                todo.append(w)
    return chain, reach


def stats(top, builddir, files, arrows):
    graph = symbol_graph(builddir, files)
    print("include arrows: %d" % len(arrows))
    print("include arrows pointing up or across: %d" %
          len(include_failures(files, arrows)))
    inc = {}
    for rel, _, target in arrows:
        inc.setdefault(rel, set()).add(target)
    print("include cycles: %d" % len(cycles(inc)))
    print("module include cycles (a .c and its .h as one): %d" %
          len(module_cycles(arrows)))
    for b in module_cycles(arrows):
        print("  " + b)
    if graph is not None:
        comps = cycles(graph)
        print("module cycles (nm): %d %s" % (len(comps), comps))
        ups = [b for b in symbol_failures(graph, files) if "needs" in b]
        print("module arrows pointing up (nm): %d" % len(ups))
        for b in ups:
            print("  " + b)
    state = [rel for rel in files if rel.endswith("master_state.h")]
    if state:
        chain, reach = longest_chain(arrows, state[0])
        print("master_state.h: longest include chain %d headers (%s); "
              "reaches %d headers" % (len(chain), " > ".join(
                  os.path.basename(c) for c in chain), len(reach)))
    sizes = size_failures(top, files)
    print("files over %d lines: %d; functions over %d: %d" % (
        MAX_LINES, sum(": split it" in b for b in sizes),
        MAX_BODY, sum("() has" in b for b in sizes)))


def main(argv):
    layout, want_stats, args = {}, False, []
    it = iter(argv)
    for a in it:
        if a == "--stats":
            want_stats = True
        elif a == "--layout":
            for line in open(next(it)):
                words = line.split()
                for name in words[1:]:
                    layout[name] = words[0]
        else:
            args.append(a)
    top = args[0] if args else os.environ.get("top_srcdir", ".")
    builddir = args[1] if len(args) > 1 else os.environ.get("top_builddir",
                                                             top)
    files = sources(top, layout)
    arrows = includes(top, files)
    if want_stats:
        stats(top, builddir, files, arrows)
        return 0
    graph = symbol_graph(builddir, files)
    checks = [
        ("every #include points down or within its layer",
         include_failures(files, arrows)),
        ("no module needs one above it or one that needs it back",
         symbol_failures(graph, files) + module_cycles(arrows)
         if graph is not None else None),
        ("no file over %d lines, no function over %d" % (MAX_LINES, MAX_BODY),
         size_failures(top, files)),
        ("each module's functions are declared in its own header",
         header_failures(top, files)),
    ]
    print("1..%d" % len(checks))
    failed = 0
    for i, (name, bad) in enumerate(checks, 1):
        if bad is None:
            print("ok %d - %s # SKIP libraries not built" % (i, name))
            continue
        print("%s %d - %s" % ("not ok" if bad else "ok", i, name))
        for b in bad:
            print("# " + b)
        failed += bool(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
