#!/usr/bin/env python3
"""Opens `sne report` folders in headless Chromium as a person would and checks what they would see: the page
renders (a screenshot that is not blank), every image loaded, and no console errors.

    tests/report/browser_check.py REPORT_DIR... [--shots DIR]

Exit status 0 when every report passes; 1 otherwise (each problem printed); 77 when Chromium is not installed
(Debian package chromium), so that test runners can skip. Used by tests/cli/test_report.py when Chromium is
there, and by hand on the committed examples under docs/reports/.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).length;
  document.title = "CHECK images=" + imgs.length + " broken=" + broken + " text=" + document.body.innerText.length;
});
</script>"""


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run(browser, *args):
    return subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--enable-logging=stderr", "--v=0", *args], capture_output=True, text=True, timeout=120)


def not_blank(png):
    """The share of pixels that are not (near) white, from the screenshot."""
    import matplotlib.image as mpimg
    import numpy as np
    img = mpimg.imread(png)[..., :3]
    return float((img.min(axis=2) < 0.9).mean())


def check(browser, report, shots):
    problems = []
    index = os.path.join(report, "index.html")
    if not os.path.isfile(index):
        return [f"{report}: no index.html"]
    with open(index, encoding="utf-8") as f:
        page = f.read()
    external = re.findall(r'(?:src|href)="(https?:[^"]*)"', page)
    if external:
        problems.append(f"{index}: needs the network for {external[:3]}")
    probe = os.path.join(report, ".browser-check.html")  # beside index.html: its relative links resolve the same
    with open(probe, "w", encoding="utf-8") as f:
        f.write(page.replace("</body>", PROBE + "</body>"))
    try:
        dom = run(browser, "--virtual-time-budget=10000", "--dump-dom", "file://" + os.path.abspath(probe))
        m = re.search(r"<title>CHECK images=(\d+) broken=(\d+) text=(\d+)</title>", dom.stdout)
        if not m:
            problems.append(f"{index}: the page did not finish loading in Chromium ({dom.stderr.strip()[-300:]})")
        else:
            images, broken, text = map(int, m.groups())
            if images == 0:
                problems.append(f"{index}: no images")
            if broken:
                problems.append(f"{index}: {broken} of {images} images did not load")
            if text < 100:
                problems.append(f"{index}: almost no text ({text} characters)")
        console = [l for l in dom.stderr.splitlines() if "CONSOLE" in l]
        if console:
            problems.append(f"{index}: console messages: {console[:3]}")
    finally:
        os.remove(probe)
    shot = os.path.join(shots, os.path.basename(os.path.abspath(report)) + ".png")
    r = run(browser, "--window-size=1100,1400", f"--screenshot={shot}", "file://" + os.path.abspath(index))
    if not os.path.isfile(shot):
        problems.append(f"{index}: no screenshot ({r.stderr.strip()[-300:]})")
    else:
        ink = not_blank(shot)
        if ink < 0.005:
            problems.append(f"{index}: the screenshot is blank ({100 * ink:.1f} % of pixels not white)")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+")
    ap.add_argument("--shots", help="keep the screenshots here (default: a temporary folder)")
    a = ap.parse_args()
    browser = chromium()
    if not browser:
        print("browser_check: Chromium is not installed (Debian package chromium); skipped", file=sys.stderr)
        return 77
    shots = a.shots or tempfile.mkdtemp(prefix="sne-shots-")
    os.makedirs(shots, exist_ok=True)
    failed = False
    for r in a.reports:
        problems = check(browser, r, shots)
        for p in problems:
            print("FAIL " + p)
        if not problems:
            print(f"ok   {r} (screenshot {os.path.join(shots, os.path.basename(os.path.abspath(r)) + '.png')})")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
