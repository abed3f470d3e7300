"""The bundled multiple-choice suite: the later tiny GPT-2 checkpoint answers more items.

``suites/mc.yaml`` is scored with the early (step 75) and the final (step 600) checkpoint of
``models/tiny-gpt2``; ``evalkit compare`` of the two runs must find a significant gain in
``acc`` and ``acc_norm`` (Holm-adjusted paired test), and the items file must be what
``scripts/make_mc_suite.py`` writes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from evalkit.cli import main

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "mc.yaml"
MODELS = ROOT / "models" / "tiny-gpt2"


def _cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return int(exc.value.code or 0)


def test_items_file_is_what_the_script_writes() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from make_mc_suite import items
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items())
    on_disk = (ROOT / "suites" / "mc" / "items.jsonl").read_bytes()
    assert hashlib.sha256(body.encode()).digest() == hashlib.sha256(on_disk).digest()
    rows = [json.loads(line) for line in on_disk.decode().splitlines()]
    assert len(rows) == 120 and all(len(r["choices"]) == 4 for r in rows)
    # The right answers are spread over the four positions (a position bias would inflate acc).
    assert {r["gold"] for r in rows} == {0, 1, 2, 3}


def test_later_checkpoint_scores_measurably_higher(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = {}
    for step in ("0075", "0600"):
        out = tmp_path / f"step-{step}"
        code = _cli(
            [
                "run",
                str(SUITE),
                "--model",
                f"hf:{MODELS / f'step-{step}'}",
                "--out",
                str(out),
                "--no-cache",
                "--label",
                f"step={step}",
            ]
        )
        assert code == 0
        rows = json.loads((out / "results.json").read_text())["results"]
        runs[step] = {r["metric"]: r for r in rows}
    early, late = runs["0075"], runs["0600"]
    for name in ("acc", "acc_norm"):
        assert early[name]["n"] == late[name]["n"] == 120
        assert late[name]["value"] > early[name]["value"] + 0.05
    # Four choices: chance is 0.25; the early checkpoint is near it.
    assert early["acc"]["ci_low"] < 0.25 < early["acc"]["ci_high"]
    assert late["acc"]["ci_low"] > 0.25
    # Confidences from the choices' softmax: the tiny models are over-confident (ECE far from
    # 0), the later one less so; the run page draws the reliability diagram.
    assert 0.3 < late["ece"]["value"] < early["ece"]["value"] <= 1.0
    assert late["brier"]["value"] < early["brier"]["value"]
    page = (tmp_path / "step-0600" / "report.html").read_text("utf-8")
    assert "Reliability diagram: choice_calibration" in page

    capsys.readouterr()
    code = _cli(
        [
            "compare",
            str(tmp_path / "step-0075"),
            str(tmp_path / "step-0600"),
            "--out",
            str(tmp_path / "ab"),
        ]
    )
    assert code == 0  # an improvement is no regression
    doc = json.loads((tmp_path / "ab" / "compare.json").read_text())
    rows = {r["metric"]: r for r in doc["comparisons"]}
    for name in ("acc", "acc_norm"):
        row = rows[name]
        assert row["change"] == "improved" and row["significant"], row
        assert row["p_adjusted"] < 0.05 and row["ci_low"] > 0
        assert row["wins"] > row["losses"]
    ece = rows["ece"]  # lower is better: an improvement is a negative delta
    assert ece["change"] == "improved" and ece["significant"] and ece["ci_high"] < 0, ece
