"""Load every built page in headless Chromium and fail on anything a reader would trip on.

Usage (after ``sphinx-build ... docs docs/_build/html``)::

    python docs/check_rendering.py                       # docs/_build/html, 1280 and 1920 px
    python docs/check_rendering.py --screenshots /tmp/shots --pages inside_the_core

At each window width, every page is checked for

* **content wider than its column**: an element whose box reaches past the
  article column (an equation, a table, a code block, an output, a figure)
  unless an element between it and the column scrolls sideways by itself
  (``overflow-x: auto`` or ``scroll``) - so wide content must scroll in its own
  box or wrap, and the page itself never scrolls sideways;
* **clipped content**: an element that hides what overflows it
  (``overflow-x: hidden`` or ``clip``) while its content is wider than it;
* **raw markup** in the text a reader sees: a literal ``\\*``, or a docstring
  role such as ``:class:`` shown as text;
* **a build-machine path** (the folder the docs were built in) in the text.

It uses Debian's ``chromium`` and ``chromedriver`` (``/usr/bin``) through
selenium; it never downloads a browser.  Exit status 0 when every page passes,
1 when any fails (each problem is printed), 2 when the browser is missing.
"""
import argparse
import os
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
WIDTHS = (1280, 1920)
HEIGHT = 900

# Run in the page: every element of the article that reaches past the column
# without a scrolling ancestor inside the column, and every element that clips
# content wider than itself.
_FIND_OVERFLOW = r"""
const column = document.querySelector("article.bd-article") ||
               document.querySelector(".bd-article-container") ||
               document.querySelector("main") || document.body;
const box = column.getBoundingClientRect();
const problems = [];
function scrolls(el) {
  const s = getComputedStyle(el);
  return s.overflowX === "auto" || s.overflowX === "scroll";
}
function describe(el) {
  let text = (el.innerText || el.textContent || "").trim().replace(/\s+/g, " ");
  let id = el.tagName.toLowerCase();
  if (el.id) id += "#" + el.id;
  if (typeof el.className === "string" && el.className) id += "." + el.className.trim().split(/\s+/).join(".");
  let section = el.closest("section[id]");
  return id + (section ? " in section #" + section.id : "") + ": " + JSON.stringify(text.slice(0, 60));
}
for (const el of column.querySelectorAll("*")) {
  // MathJax's own parts (stretchy delimiters) hide overflow by design
  if (el.tagName.toLowerCase().startsWith("mjx-")) continue;
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) continue;
  const s = getComputedStyle(el);
  if (s.visibility === "hidden" || s.display === "none") continue;
  if (s.position === "fixed") continue;
  // clipped: hides overflow that is really there
  if ((s.overflowX === "hidden" || s.overflowX === "clip") && el.scrollWidth > el.clientWidth + 2
      ) {
    problems.push(["clipped", Math.round(el.scrollWidth - el.clientWidth), describe(el)]);
    continue;
  }
  // sticking out of its table cell (into the next column)
  const cell = el.closest("td, th");
  if (cell && cell !== el && !el.closest("pre")) {
    const c = cell.getBoundingClientRect();
    if (r.right > c.right + 1) {
      let inner = el.parentElement, innerScrolls = false;
      while (inner && inner !== cell) { if (scrolls(inner)) { innerScrolls = true; break; } inner = inner.parentElement; }
      if (!innerScrolls && !(el.parentElement !== cell && el.parentElement.getBoundingClientRect().right > c.right + 1)) {
        problems.push(["wider than its table cell", Math.round(r.right - c.right), describe(el)]);
      }
    }
  }
  if (r.right <= box.right + 1 && r.left >= box.left - 1) continue;
  // inside a box of its own that scrolls (and that box stays in the column)?
  let p = el.parentElement, ok = false;
  while (p && p !== column) {
    if (scrolls(p)) { ok = true; break; }
    p = p.parentElement;
  }
  if (ok) continue;
  // report only the outermost offender
  let parent = el.parentElement, parentOut = false;
  if (parent && parent !== column) {
    const pr = parent.getBoundingClientRect();
    parentOut = pr.right > box.right + 1 || pr.left < box.left - 1;
  }
  if (!parentOut) {
    problems.push(["wider than the column", Math.round(Math.max(r.right - box.right, box.left - r.left)),
                   describe(el)]);
  }
}
const pageWide = document.documentElement.scrollWidth > window.innerWidth + 1;
if (pageWide) problems.push(["page scrolls sideways",
  document.documentElement.scrollWidth - window.innerWidth, "html"]);
// the prose a reader sees: code listings and outputs left out (their backticks are code)
const prose = column.cloneNode(true);
for (const el of prose.querySelectorAll("pre, code, .highlight, script, style, mjx-container")) el.remove();
return [problems, prose.textContent || "", column.textContent || ""];
"""

_WAIT_FOR_MATH = """
const done = arguments[arguments.length - 1];
if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
  MathJax.startup.promise.then(() => done(true)).catch(() => done(false));
} else { done(true); }
"""

_RAW_MARKUP = [
    (re.compile(r"\\\*"), "a literal \\*"),
    (re.compile(r"(?<![\w`]):(class|func|meth|attr|mod|data|obj|exc|ref|doc|math|term):`"),
     "a role shown as text"),
    (re.compile(r"``\w"), "a literal `` shown as text"),
]


def _driver(width):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{HEIGHT}", "--hide-scrollbars",
                "--allow-file-access-from-files"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_window_size(width, HEIGHT)
    driver.set_script_timeout(30)
    driver.set_page_load_timeout(60)
    return driver


def _pages(html, only):
    pages = []
    for path in sorted(html.rglob("*.html")):
        rel = path.relative_to(html).as_posix()
        if rel.startswith(("_static/", "_sources/", "_images/", "_modules/")):
            continue
        if rel in ("search.html", "genindex.html", "py-modindex.html"):
            continue
        if only and not any(o in rel for o in only):
            continue
        pages.append(path)
    return pages


def check(html, widths=WIDTHS, only=(), screenshots=None):
    """Check every page; return a list of problems (page, width, kind, size, where)."""
    paths = {str(ROOT), str(DOCS), os.path.expanduser("~")}
    paths = {p for p in paths if len(p) > 4}
    problems = []
    pages = _pages(html, only)
    for width in widths:
        driver = _driver(width)
        try:
            for page in pages:
                rel = page.relative_to(html).as_posix()
                driver.get(page.as_uri())
                driver.execute_async_script(_WAIT_FOR_MATH)
                found, text, everything = driver.execute_script(_FIND_OVERFLOW)
                for kind, size, where in found:
                    problems.append((rel, width, kind, f"{size} px", where))
                for pattern, what in _RAW_MARKUP:
                    for m in pattern.finditer(text):
                        context = text[max(0, m.start() - 40):m.end() + 40].replace("\n", " ")
                        problems.append((rel, width, "raw markup", what, repr(context)))
                for p in paths:
                    if p in everything:
                        i = everything.index(p)
                        problems.append((rel, width, "build-machine path", p, repr(
                            everything[max(0, i - 40):i + 80].replace("\n", " "))))
                if screenshots:
                    folder = Path(screenshots)
                    folder.mkdir(parents=True, exist_ok=True)
                    name = rel.replace("/", "-").removesuffix(".html")
                    full = driver.execute_script("return document.documentElement.scrollHeight")
                    driver.set_window_size(width, min(int(full) + 100, 12000))
                    driver.save_screenshot(str(folder / f"{name}-{width}.png"))
                    driver.set_window_size(width, HEIGHT)
        finally:
            driver.quit()
    return problems, len(pages)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("html", nargs="?", default=str(DOCS / "_build" / "html"),
                        help="the built site (default docs/_build/html)")
    parser.add_argument("--widths", default=",".join(map(str, WIDTHS)))
    parser.add_argument("--pages", nargs="*", default=(),
                        help="check only pages whose path contains one of these")
    parser.add_argument("--screenshots", help="save a full-page PNG of every page here")
    args = parser.parse_args(argv)
    if not (shutil.which("chromium") or os.path.exists("/usr/bin/chromium")) or \
            not os.path.exists("/usr/bin/chromedriver"):
        print("check_rendering: chromium or chromedriver not installed; nothing checked")
        return 2
    html = Path(args.html).resolve()   # as_uri needs an absolute path
    if not (html / "index.html").exists():
        print(f"check_rendering: no built site in {html}; run sphinx-build first")
        return 1
    widths = [int(w) for w in args.widths.split(",")]
    problems, n = check(html, widths, args.pages, args.screenshots)
    for rel, width, kind, size, where in problems:
        print(f"{rel} @ {width}px: {kind} ({size}): {where}")
    print(f"check_rendering: {n} pages at {', '.join(map(str, widths))} px: "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
