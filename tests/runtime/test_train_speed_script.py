"""benchmarks/train_speed.py stays runnable (tiny sizes; timings are never asserted: the script
measures them into docs/benchmarks.md), and its three contenders train the same models."""

from __future__ import annotations

import sys

from support import ROOT


def test_the_training_benchmark_runs_and_renders_its_section():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import train_speed
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    measured = train_speed.measure(rounds=1, examples=256, epochs=2)
    assert set(measured["cases"]) == {"MLP", "CNN"}
    for row in measured["cases"].values():
        assert row["steps_per_epoch"] == 2
        assert set(row["seconds_per_step"]) == {"tfm", "keras", "loop"}
        assert all(cpu > 0 and wall > 0 for cpu, wall in row["seconds_per_step"].values())
    section = train_speed.render(measured)
    assert section.startswith("## Training speed: tfm train against Keras fit and a hand-written loop")
    assert "| MLP |" in section and "| CNN |" in section
