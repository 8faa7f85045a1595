"""The main command prints its table and, with --plot, writes a PNG."""

import re
from pathlib import Path

import numpy as np
import pytest

from sklearn_losses.__main__ import main


def test_main_command_prints_the_table_and_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    figure = tmp_path / "losses.png"
    assert main(["--plot", str(figure)]) == 0
    output = capsys.readouterr().out
    for name in [
        "HuberLossRegressor",
        "QuantileLossRegressor",
        "PoissonLossRegressor",
        "HingeLossClassifier",
        "LogisticLossClassifier",
        "FocalLossClassifier",
        "fit time",
    ]:
        assert name in output
    assert "did not converge" not in output
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_main_command_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "--plot FILE.png" in capsys.readouterr().out


def test_plot_to_a_missing_folder_fails_before_any_fit(tmp_path, capsys):
    """The folder is checked first: an error at once, no table printed."""
    pytest.importorskip("matplotlib")
    with pytest.raises(SystemExit) as exit_info:
        main(["--plot", str(tmp_path / "missing" / "losses.png")])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert "does not exist" in captured.err
    assert "HuberLossRegressor" not in captured.out


def test_the_readme_examples_run_and_fit_non_trivial_models():
    """The README's Python blocks run as a new user would paste them, in
    order; the L1 quantile model among them keeps some coefficients (on
    unscaled diabetes data every one was zero)."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert np.count_nonzero(namespace["upper"][-1].coef_) > 0
    assert namespace["search"].duality_gap_ <= 1e-9
