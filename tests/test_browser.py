"""Notebook 08 the way its user meets it: JupyterLab started on the project, the notebook opened in a real browser
(headless Chromium driven by Selenium), every cell run from the Run menu's command, the figure displayed, no error
output. The steps are the README's JupyterLab section's; the notebook carries the ci profile's parameters (papermill
writes them into a copy, as it does for the headless run) so the run takes a minute.

Needs Chromium and its driver (Debian: apt-get install chromium chromium-driver; `make test` installs them as root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "08_your_model.ipynb"
TOKEN = "aq4svit-browser-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromedriver = shutil.which("chromedriver")
    if chromedriver is None:
        pytest.fail("no chromedriver: install Chromium and its driver (Debian: apt-get install chromium chromium-driver; "
                    "`make test` does it as root)")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(chromedriver))


@pytest.fixture()
def lab(tmp_path):
    """JupyterLab on a folder holding the notebook with the ci parameters; yields its URL."""
    from papermill.iorw import load_notebook_node, write_ipynb
    from papermill.parameterize import parameterize_notebook  # the same injection as the headless run

    work = tmp_path / "lab"
    work.mkdir()
    nb = parameterize_notebook(load_notebook_node(str(NOTEBOOK)), {"profile": "ci"})
    write_ipynb(nb, str(work / NOTEBOOK.name))
    port = _free_port()
    # as a user's JupyterLab: inline figures (the suite's MPLBACKEND=Agg, tests/conftest.py, must not reach the kernel)
    env = {**{k: v for k, v in os.environ.items() if k != "MPLBACKEND"}, "AQ4SVIT_RESULTS": str(tmp_path / "results"), "AQ4SVIT_QUIET": "1"}
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                               f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True",
                               "--allow-root"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within a minute")
        yield base, work
    finally:
        server.terminate()
        server.wait(timeout=30)


#: JavaScript evaluated in the page: the open notebook panel of the exposed JupyterLab app
PANEL = "const w = window.jupyterapp && window.jupyterapp.shell.currentWidget; "
KERNEL_IDLE = PANEL + "return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel && " \
                      "w.sessionContext.session.kernel.status === 'idle');"
CELLS = PANEL + """
const cells = w.content.widgets.filter(c => c.model.type === 'code');
return cells.map(c => ({count: c.model.executionCount,
                        errors: c.model.outputs.toJSON().filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue),
                        image: c.model.outputs.toJSON().some(o => o.data && o.data['image/png'])}));
"""
#: JupyterLab 4 renders only the cells in view (windowed notebook): scroll the figure's cell into view, then ask the page
#: whether the browser decoded the image (its natural width), not only whether the kernel sent one
SHOW_FIGURE = PANEL + """
const i = w.content.widgets.findIndex(c => c.model.type === 'code' && c.model.outputs.toJSON().some(o => o.data && o.data['image/png']));
if (i < 0) return -1;
w.content.activeCellIndex = i;
w.content.scrollToItem(i, 'center');
return Array.from(w.content.widgets[i].node.querySelectorAll('.jp-OutputArea-output img')).filter(im => im.naturalWidth > 100).length;
"""


def _wait(driver, script: str, seconds: float, what: str):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def test_notebook_08_runs_in_jupyterlab_in_a_real_browser(lab, tmp_path):
    base, work = lab
    driver = _driver()
    try:
        driver.get(f"{base}/lab/tree/{NOTEBOOK.name}?token={TOKEN}")
        _wait(driver, KERNEL_IDLE, 120, "the notebook to open with an idle kernel")
        driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells');")
        end = time.monotonic() + 900
        while time.monotonic() < end:
            cells = driver.execute_script(CELLS)
            if all(c["count"] is not None for c in cells) and driver.execute_script(KERNEL_IDLE):
                break
            if any(c["errors"] for c in cells):
                break
            time.sleep(1)
        driver.save_screenshot(str(tmp_path / "notebook_08.png"))  # what the user saw, kept with the test's files
        errors = [e for c in cells for e in c["errors"]]
        assert not errors, errors
        assert all(c["count"] is not None for c in cells), "every code cell ran"
        assert any(c["image"] for c in cells), "the notebook made a figure"
        assert _wait(driver, SHOW_FIGURE, 30, "the bit map to be displayed") >= 1, "the bit map is displayed"
        driver.save_screenshot(str(tmp_path / "notebook_08_figure.png"))
    finally:
        driver.quit()
