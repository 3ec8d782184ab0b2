"""`python -m aci.demo` (the end of `make demo`) runs and agrees with the reference."""

from aci import demo


def test_demo_runs_and_matches(capsys):
    assert demo.main(["--images", "2", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("scores match the reference") == 2
    assert "strict" in out and "dataflow" in out and "PRs" in out
