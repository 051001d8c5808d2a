"""Make the screenshots on docs/playground.rst (run by hand after changing the page).

    PYTHONPATH=src python docs/_static/playground/make_screenshots.py

Needs the playground extra, selenium, and Debian's chromium + chromium-driver.
Starts ``python -m hpframe playground --no-browser``, drives it headless, and
writes the PNG files next to this script.
"""
import re
import subprocess
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

HERE = Path(__file__).parent
FIND = """
function find(root, sel) {
  const hit = root.querySelector(sel);
  if (hit) return hit;
  for (const n of root.querySelectorAll('*'))
    if (n.shadowRoot) { const f = find(n.shadowRoot, sel); if (f) return f; }
  return null;
}
let root = document;
if (arguments[1]) { const host = find(document, arguments[1]); root = host && (host.shadowRoot || host); }
const el = root ? find(root, arguments[0]) : null;
return arguments[2] ? (el ? el.textContent : null) : el;
"""


def main():
    proc = subprocess.Popen([sys.executable, "-m", "hpframe", "playground", "--no-browser"],
                            stdout=subprocess.PIPE, text=True)
    url = re.search(r"http://\S+/", proc.stdout.readline()).group(0)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--window-size=1220,800",
                "--hide-scrollbars"):
        options.add_argument(arg)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    find = lambda sel, within=None: d.execute_script(FIND, sel, within, False)    # noqa: E731
    text = lambda sel, within=None: d.execute_script(FIND, sel, within, True)     # noqa: E731

    def wait(cond, timeout=120):
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError
            time.sleep(0.1)

    def click(name):
        find("button", f"#{name}").click()

    def slider(name, *keys):
        for k in keys:
            find(".noUi-handle", f"#ctl-{name}").send_keys(k)

    def shot(name):
        d.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.6)
        d.save_screenshot(str(HERE / f"{name}.png"))
        print("wrote", HERE / f"{name}.png")

    try:
        d.get(url)
        wait(lambda: text("#state") == "ready")
        click("start")
        wait(lambda: text("#state") == "done")
        shot("train")

        slider("learning_rate", Keys.END)                     # 1000
        wait(lambda: "learning_rate=1000.0" in (text("pre", "#code") or ""))
        click("start")
        wait(lambda: find("#diverged") is not None)
        shot("diverged")

        slider("learning_rate", Keys.HOME, *[Keys.ARROW_RIGHT] * 25)   # back to 0.032
        Select(find("select", "#ctl-dataset")).select_by_value("spirals")
        slider("noise", *[Keys.ARROW_LEFT] * 2)               # noise 0.1
        field = find("input", "#ctl-hidden_layers")
        field.clear()
        field.send_keys("64, 64", Keys.ENTER)
        slider("n_samples", *[Keys.ARROW_LEFT] * 3)           # 150 points: easy to overfit
        field = find("input", "#ctl-seed")                    # the seed the page quotes
        field.clear()
        field.send_keys("1", Keys.ENTER)
        wait(lambda: "hidden_layers=(64, 64)" in (text("pre", "#code") or ""))
        wait(lambda: "seed=1)" in (text("pre", "#code") or ""))
        click("start")
        wait(lambda: text("#state") == "done")
        shot("overfit")
        slider("dropout", *[Keys.ARROW_RIGHT] * 3)            # dropout 0.15
        wait(lambda: "dropout=0.15" in (text("pre", "#code") or ""))
        click("start")
        wait(lambda: text("#state") == "done")
        shot("dropout")

        find("div.bk-tab:nth-child(2)", "#tabs").click()
        shot("code")
        find("div.bk-tab:nth-child(3)", "#tabs").click()
        click("search")
        wait(lambda: find("#trial-table") is not None)
        shot("trials")
    finally:
        d.quit()
        proc.terminate()


if __name__ == "__main__":
    main()
