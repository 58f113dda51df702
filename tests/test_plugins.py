"""One place to extend: a new search method is one new module, found as pytest finds plugins (an entry point)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

TOY = '''
from dataclasses import dataclass, field

from aq4svit_lib.search.common import fp32_bits
from aq4svit_lib.search.registry import MethodOutput, register_method


@dataclass
class ToySettings:
    width: int = field(default=8, metadata={"help": "the one width of every layer"})


@register_method("toy", ToySettings, table_file=None, summary="every layer at one width", display_name="Toy search",
                 color="#123456", marker="v", peer=True)
def run(ctx, settings):
    return MethodOutput({name: settings.width for name in fp32_bits(ctx.space)})
'''

PROBE = '''
import json, sys
from aq4svit_lib.plot_style import METHOD_COLORS, method_name
from aq4svit_lib.search import run_search
from aq4svit_lib.search.registry import method_names, peer_methods

out = run_search("toy", "sdtv3_tiny", width=4, search_confidence=0.5, spec=__import__("aq4svit_lib.data", fromlist=["SplitSpec"]).SplitSpec(
    search_size=200, minibatch_size=32, verify_size=0, test_size=200), out=sys.argv[1], export=False)
print(json.dumps({"names": list(method_names()), "peers": list(peer_methods()), "label": method_name("toy"),
                  "color": METHOD_COLORS["toy"], "method": out.result["method"], "mean_bits": out.result["final"]["mean_bits"]}))
'''


def _plugin(tmp_path: Path) -> dict:
    (tmp_path / "toy_search.py").write_text(TOY)
    dist = tmp_path / "aq4svit_toy-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: aq4svit-toy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[aq4svit.methods]\ntoy = toy_search\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}


def test_a_new_method_is_one_module_found_through_its_entry_point(tmp_path):
    env = _plugin(tmp_path)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(PROBE), str(tmp_path / "result")], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert "toy" in got["names"] and "toy" in got["peers"]  # notebook 07 and `aq4svit compare` include it
    assert got["label"] == "Toy search" and got["color"] == "#123456"  # figures and tables name and colour it
    assert got["method"] == "toy" and got["mean_bits"] == 4.0  # the engine ran it and wrote its result folder
    assert json.loads((tmp_path / "result" / "result.json").read_text())["method"] == "toy"


def test_the_cli_offers_the_plugin_and_its_options(tmp_path):
    env = _plugin(tmp_path)
    done = subprocess.run([sys.executable, "-m", "aq4svit_lib.cli", "search", "--help"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ToySettings (--method toy)" in done.stdout and "--width" in done.stdout
