#!/usr/bin/env python3
"""check-docs.py - the manual pages checked against the program, so a page
that drifts from the code fails "make check" (issue 26).  TAP.

1. every key of echod.conf(5) and its "Default:" against the schema, as
   tests/docs/confkeys prints it, and each list's "at most N" against
   what "echod -t" accepts;
2. every exit status in echod(8) against the statuses echod's sources can
   exit with;
3. every metric name and label value in echod(8) against a real scrape of
   a running echod, both ways;
4. the usage lines of "echod --help" against echod(8)'s SYNOPSIS.

Environment: ECHOD, CONFKEYS (binaries), top_srcdir.
"""
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

TOP = os.environ.get("top_srcdir", ".")
ECHOD = os.environ.get("ECHOD", os.path.join(TOP, "src", "echod"))
CONFKEYS = os.environ.get("CONFKEYS", os.path.join(TOP, "tests", "docs",
                                                   "confkeys"))
PAGE8 = os.path.join(TOP, "man", "echod.8")
PAGE5 = os.path.join(TOP, "man", "echod.conf.5")


def render(page):
    """The page as plain text, one line per paragraph (no wrapping)."""
    out = subprocess.run(["mandoc", "-T", "utf8", "-O", "width=1000", page],
                         check=True, capture_output=True, text=True).stdout
    return re.sub(r".\x08", "", out)


def section(text, name):
    m = re.search(r"^%s\n(.*?)(?=^[A-Z][A-Z ]+\n)" % re.escape(name), text,
                  re.S | re.M)
    return m.group(1) if m else ""


# -- 1. echod.conf(5) against the schema ------------------------------------

UNITS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}
SIZES = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def page_entries():
    """{key: [type, body text]} from the KEYS section."""
    keys, cur = {}, None
    for line in section(render(PAGE5), "KEYS").splitlines():
        m = re.match(r"^     ([a-z_]+) \((.*)\)$", line)
        if m:
            cur = m.group(1)
            keys[cur] = [m.group(2), ""]
        elif re.match(r"^   \S", line):
            cur = None		# a topic's heading ends the key before it
        elif cur:
            keys[cur][1] += " " + line.strip()
    return keys


def page_keys():
    """{key: (type, default text)} from the KEYS section."""
    out = {}
    for k, (ty, body) in page_entries().items():
        m = re.search(r"Default: (.+?)\.(?:\s|$)", body)
        out[k] = (ty, m.group(1) if m else None)
    return out


def normalize(key, ty, text):
    """The page's default as confkeys prints it, or a reason it can't be."""
    v = re.sub(r"\s*\(.*\)$", "", text).strip("‘’ ")
    if v.startswith("unset"):
        return "unset"
    if v in ("empty", "{}"):
        return ""
    if v.startswith("{"):
        return ", ".join(re.findall(r'"([^"]*)"', v))
    if key == "workers" and v == "auto":
        return "0"			# the schema keeps auto as 0
    if key == "log_connections":	# the schema keeps the word's number
        return {"none": "0", "close": "1", "both": "2"}.get(v, v)
    if ty == "duration":
        m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", v)
        return str(int(m.group(1)) * UNITS[m.group(2) or "ms"]) if m else v
    if ty == "size":
        m = re.fullmatch(r"(\d+)([kmg]?)", v)
        return str(int(m.group(1)) * SIZES[m.group(2)]) if m else v
    return v


def check_conf():
    schema = {}
    out = subprocess.run([CONFKEYS], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        k, _, d = line.split("\t")
        schema[k] = d
    page = page_keys()
    bad = []
    for k in schema:
        if k not in page:
            bad.append("%s: in the schema, not in KEYS" % k)
        elif page[k][1] is None:
            bad.append("%s: no \"Default:\" in its entry" % k)
        elif normalize(k, *page[k]) != schema[k]:
            bad.append("%s: the page says %r, the schema %r" %
                       (k, page[k][1], schema[k]))
    bad += ["%s: in KEYS, not in the schema" % k for k in page
            if k not in schema]
    bad += check_list_limits()
    return "echod.conf(5): %d keys, their defaults and list limits match " \
        "the program" % len(schema), bad


# The longest list of each kind, as "echod -t" enforces it: a list of as
# many entries as the page says passes, one more fails with "at most N".
LISTS = {
    "listen_tcp": lambda i: '"127.0.0.1:%d"' % (10000 + i),
    "listen_udp": lambda i: '"127.0.0.1:%d"' % (10000 + i),
    "metrics_listen": lambda i: '"127.0.0.1:%d"' % (10000 + i),
    "allow": lambda i: '"10.%d.%d.0/24"' % (i // 256, i % 256),
    "deny": lambda i: '"10.%d.%d.0/24"' % (i // 256, i % 256),
    "proxy_from": lambda i: '"10.%d.%d.0/24"' % (i // 256, i % 256),
}


def try_list(d, key, n):
    """echod -t on a file whose list KEY has N entries: its message."""
    conf = os.path.join(d, "%s-%d.conf" % (key, n))
    with open(conf, "w") as f:
        f.write("%s = {%s}\n" % (key, ", ".join(LISTS[key](i)
                                             for i in range(n))))
        f.write('control_socket = ""\n')
        if os.geteuid() == 0:
            f.write('user = "nobody"\n')	# metrics_listen needs one
    out = subprocess.run([ECHOD, "-t", "-c", conf], capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    return out.returncode, (out.stdout + out.stderr).strip()


def check_list_limits():
    entries = page_entries()
    bad = []
    d = tempfile.mkdtemp(prefix="echod-docs.")
    try:
        for key in LISTS:
            m = re.search(r"at most (\d+)(?: TCP)? (?:addresses|entries)",
                          entries.get(key, ["", ""])[1], re.I)
            if not m:
                bad.append("%s: echod.conf(5) gives no \"at most N\" for "
                           "the list" % key)
                continue
            n = int(m.group(1))
            rc, msg = try_list(d, key, n)
            if rc != 0:
                bad.append("%s: %d entries, as the page allows, fail: %s" %
                           (key, n, msg))
            rc, msg = try_list(d, key, n + 1)
            if rc == 0 or "at most %d " % n not in msg:
                bad.append("%s: %d entries do not fail with \"at most %d\""
                           ": %s" % (key, n + 1, n, msg or rc))
    finally:
        shutil.rmtree(d)
    return bad


# -- 2. exit statuses --------------------------------------------------------

def code_statuses():
    """What echod can exit with: exit()/_exit() literals and every sysexits
    name its sources use.  The sources are the ones Makefile.am links."""
    am = open(os.path.join(TOP, "Makefile.am")).read()
    blocks = re.findall(r"src_lib\w+_a_SOURCES = (.*?)\n\S", am, re.S)
    files = re.findall(r"src/[\w/]+\.c", "".join(blocks)) + ["src/main.c"]
    sysexits = {}
    for line in open("/usr/include/sysexits.h"):
        m = re.match(r"#define\s+(EX_\w+)\s+(\d+)", line)
        if m:
            sysexits[m.group(1)] = int(m.group(2))
    found = {}
    for f in files:
        src = open(os.path.join(TOP, f)).read()
        for n in re.findall(r"\b_?exit\((\d+)\)", src):
            found.setdefault(int(n), f)
        for n in re.findall(r"\b(EX_[A-Z]+)\b", src):
            if n in sysexits:
                found.setdefault(sysexits[n], f)
    return found


def check_exit():
    text = section(render(PAGE8), "EXIT STATUS")
    page = {int(n) for n in re.findall(r"^     (\d+)\s", text, re.M)}
    code = code_statuses()
    bad = ["%d: echod can exit with it (%s), echod(8) does not list it" %
           (n, f) for n, f in sorted(code.items()) if n not in page]
    bad += ["%d: listed in echod(8), no source exits with it" % n
            for n in sorted(page - set(code))]
    return "echod(8) EXIT STATUS lists %s, as the code does" % \
        sorted(page), bad


# -- 3. metrics --------------------------------------------------------------

def page_metrics():
    """{name: (label or None, {values})} from the mdoc list of metrics:
    ".It Li name[ , name] [Ns Brq Li label]" and the ".Li" lines under it."""
    out, cur = {}, []
    for line in open(PAGE8):
        m = re.match(r"\.It Li (echod_\w+(?: , echod_\w+)*)"
                     r"(?: Ns Brq Li (\w+))?\s*$", line)
        if m:
            cur = m.group(1).split(" , ")
            for n in cur:
                out[n] = (m.group(2), set())
        elif line.startswith((".It", ".El")):
            cur = []
        elif cur and line.startswith(".Li "):
            vals = re.findall(r"\w+", line[4:])
            for n in cur:
                out[n][1].update(vals)
    return out


class Skip(Exception):
    pass


def scrape():
    """Start echod with a metrics port on loopback and read /metrics."""
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            raise Skip("root, and no user nobody for the metrics process")
    d = tempfile.mkdtemp(prefix="echod-docs.")
    conf = os.path.join(d, "echod.conf")
    with open(conf, "w") as f:
        f.write('listen_tcp = {"127.0.0.1:0"}\nlisten_udp = {"127.0.0.1:0"}\n'
                'workers = 1\ncontrol_socket = ""\n'
                'metrics_listen = {"127.0.0.1:0"}\n')
        if os.geteuid() == 0:
            f.write('user = "nobody"\n')	# the metrics process needs one
    log = open(os.path.join(d, "log"), "w+")
    p = subprocess.Popen([ECHOD, "-f", "-c", conf], stderr=log,
                         stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and p.poll() is None:
            log.seek(0)
            m = re.search(r"metrics on (127\.0\.0\.1:\d+)", log.read())
            if m:
                url = "http://%s/metrics" % m.group(1)
                try:
                    return urllib.request.urlopen(url, timeout=5).read() \
                        .decode()
                except OSError:
                    pass	# not accepting yet: the master binds first
            time.sleep(0.05)	# polling the log, bounded by the deadline
        log.seek(0)
        raise RuntimeError("no metrics within 10 s: " + log.read()[-500:])
    finally:
        p.terminate()
        p.wait(timeout=20)
        log.close()
        shutil.rmtree(d)


def check_metrics():
    scraped = {}
    for line in scrape().splitlines():
        m = re.match(r"^(echod_\w+)(?:\{(\w+)=\"([^\"]*)\"\})? ", line)
        if m:
            lab, vals = scraped.setdefault(m.group(1), (m.group(2), set()))
            if m.group(3) is not None:
                vals.add(m.group(3))
    page = page_metrics()
    bad = []
    for n, (lab, vals) in sorted(scraped.items()):
        if n not in page:
            bad.append("%s: scraped, not in echod(8)" % n)
            continue
        plab, pvals = page[n]
        if plab != lab:
            bad.append("%s: label %s scraped, %s in echod(8)" % (n, lab, plab))
        elif lab == "version":
            continue		# its value is the build's, not a fixed word
        elif vals != pvals:
            bad.append("%s{%s}: scraped %s, echod(8) says %s" %
                       (n, lab, sorted(vals), sorted(pvals)))
    bad += ["%s: in echod(8), not scraped" % n for n in sorted(page)
            if n not in scraped]
    # a name anywhere in the page, a counter's prose included
    text = render(PAGE8)
    bad += ["%s: named in echod(8), not scraped" % n for n in
            sorted(set(re.findall(r"\becho(d_[a-z_]+[a-z])\b", text)))
            if "echo" + n not in scraped]
    return "echod(8): %d metrics and their label values match a scrape" % \
        len(scraped), bad


# -- 4. --help against SYNOPSIS ----------------------------------------------

def forms(text):
    text = re.sub(r"\]\s+\.\.\.", "]...", text)
    return sorted(" ".join(l.split()) for l in text.splitlines()
                  if re.match(r"^\s*(usage:\s*)?echod\b", l))


def check_synopsis():
    page = forms(section(render(PAGE8), "SYNOPSIS"))
    out = subprocess.run([ECHOD, "--help"], capture_output=True, text=True)
    usage = (out.stdout + out.stderr).split("\n\n")[0]
    usage = re.sub(r"^usage:", "      ", usage, flags=re.M)
    helps = forms(usage.split("\n  -")[0])
    bad = ["SYNOPSIS has %r, --help does not" % f for f in page
           if f not in helps]
    bad += ["--help has %r, SYNOPSIS does not" % f for f in helps
            if f not in page]
    return "echod --help and echod(8) SYNOPSIS give the same %d forms" % \
        len(page), bad


def main():
    checks = [check_conf, check_exit, check_metrics, check_synopsis]
    print("1..%d" % len(checks))
    for i, check in enumerate(checks, 1):
        try:
            name, bad = check()
        except Skip as e:
            print("ok %d - %s # SKIP %s" % (i, check.__name__, e))
            continue
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            name, bad = check.__name__, ["could not run: %s" % e]
        print("%s %d - %s" % ("not ok" if bad else "ok", i, name))
        for b in bad:
            print("# " + b)
    return 0	# failures are in the TAP lines, as man/test-man.sh does


if __name__ == "__main__":
    sys.exit(main())
