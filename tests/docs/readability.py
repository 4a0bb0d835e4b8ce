#!/usr/bin/env python3
"""readability.py - words per sentence in a manual page or a Markdown file,
measured on the rendered text: mandoc's HTML for a page, the Markdown's
prose for a README.  Literal blocks, tables, headings and list tags are
left out; a paragraph is a block of prose (a paragraph, a list item, a
tag's body).

usage: readability.py [--check MEDIAN,PCT40] FILE...
Prints one line per file: median and mean words per sentence, the share of
sentences over 40 words, the longest sentence and the longest paragraph.
With --check, exits 1 if a file's median is above MEDIAN or its share of
sentences over 40 words above PCT40 %, naming the longest sentences.
"""
import html.parser
import re
import statistics
import subprocess
import sys

SKIP = {"pre", "table", "h1", "h2", "h3", "h4", "dt", "code-block"}
BLOCK = {"p", "dd", "li", "section", "div", "pre", "table", "h1", "h2", "h3",
         "dt", "dl", "ul", "ol", "br", "blockquote"}
# Abbreviations whose period does not end a sentence.
ABBREV = {"e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.", "no.", "Dr.",
          "Mr.", "St.", "et al."}


class Prose(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paras, self.cur, self.skip = [], [], []

    def flush(self):
        text = " ".join("".join(self.cur).split())
        if text:
            self.paras.append(text)
        self.cur = []

    def handle_starttag(self, tag, attrs):
        if tag in BLOCK:
            self.flush()
        if tag in SKIP:
            self.skip.append(tag)

    def handle_endtag(self, tag):
        if tag in BLOCK:
            if self.skip and self.skip[-1] == tag:
                self.skip.pop()
                self.cur = []
            self.flush()

    def handle_data(self, data):
        if not self.skip:
            self.cur.append(data)


def man_paragraphs(path):
    out = subprocess.run(["mandoc", "-T", "html", path], check=True,
                         capture_output=True, text=True).stdout
    body = out.split('<div class="manual-text">', 1)[-1]
    p = Prose()
    p.feed(body)
    p.flush()
    return p.paras


def md_paragraphs(path):
    paras, cur, fence = [], [], False
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("```"):
            fence = not fence
            continue
        if (fence or line.startswith("    ") or line.startswith("\t") or
                line.startswith("#") or line.startswith("|") or
                line.startswith("<!--") or not line.strip()):
            if cur:
                paras.append(" ".join(cur))
                cur = []
            continue
        item = re.match(r"^\s*([-*]|\d+\.)\s+", line)
        if item and cur:
            paras.append(" ".join(cur))
            cur = []
        line = re.sub(r"^\s*([-*]|\d+\.)\s+", "", line)
        cur.append(line.strip())
    if cur:
        paras.append(" ".join(cur))
    # inline markup is not words
    return [re.sub(r"[`*]|\[([^]]*)\]\([^)]*\)", r"\1", p) for p in paras]


END = re.compile(r"[.!?:;]?[.!?]['\")\]\u201d]*$")


def sentences(para):
    words, out = para.split(), []
    cur = []
    for i, w in enumerate(words):
        cur.append(w)
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if (re.search(r"[.!?]['\")\]\u201d]*$", w) and w not in ABBREV and
                not re.match(r"^[a-z0-9,;)]", nxt)):
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def measure(path):
    paras = (md_paragraphs(path) if path.endswith(".md")
             else man_paragraphs(path))
    lens, longest = [], (0, "")
    for p in paras:
        for s in sentences(p):
            lens.append(len(s))
            if len(s) > longest[0]:
                longest = (len(s), " ".join(s))
    plen = max((len(p.split()) for p in paras), default=0)
    over = sum(1 for n in lens if n > 40)
    return {
        "median": statistics.median(lens) if lens else 0,
        "mean": statistics.mean(lens) if lens else 0,
        "over40": 100.0 * over / len(lens) if lens else 0,
        "longest": longest[0],
        "longest_text": longest[1],
        "paragraph": plen,
        "n": len(lens),
        "long": sorted(((len(s), " ".join(s)) for p in paras
                        for s in sentences(p) if len(s) > 40), reverse=True),
    }


def main(argv):
    check = None
    if argv[:1] == ["--check"]:
        m, pct = argv[1].split(",")
        check = (float(m), float(pct))
        argv = argv[2:]
    bad = 0
    for path in argv:
        r = measure(path)
        print("%s: median %g / mean %.1f words, %.0f%% over 40, longest "
              "sentence %d, longest paragraph %d (%d sentences)" %
              (path, r["median"], r["mean"], r["over40"], r["longest"],
               r["paragraph"], r["n"]))
        if check and (r["median"] > check[0] or r["over40"] > check[1]):
            bad = 1
            print("  over the bound (median <= %g, <= %g%% over 40 words); "
                  "the longest:" % check)
            for n, s in r["long"][:5]:
                print("  %d: %s" % (n, s[:200]))
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
