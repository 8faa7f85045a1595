"""The main command prints its table and, with --plot, writes a PNG."""

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
