"""Figure files are byte-deterministic: re-rendering unchanged results leaves git clean."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from aq4svit_lib.plots import save  # noqa: E402


def test_saved_figures_are_byte_identical_when_rendered_twice(tmp_path):
    def render(directory):
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [3, 1, 2], label="a line")
        ax.set_title("same figure")
        ax.legend()
        paths = save(fig, "figure", directory)
        plt.close(fig)
        return [p.read_bytes() for p in paths]

    first, second = render(tmp_path / "a"), render(tmp_path / "b")
    assert [len(b) > 1000 for b in first] == [True, True]
    assert first == second  # PNG and PDF alike (no creation date in the PDF)
