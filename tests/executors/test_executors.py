"""Executor selection without Ray: the suite field, command-line overrides, a missing Ray."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.errors import ConfigError
from evalkit.executors import Batch, TaskSlot, make_executor, merge_specs
from evalkit.executors.local import LocalExecutor
from evalkit.runner import RunOptions, run_suite
from evalkit.store import load_run
from evalkit.suite import ExecutorSpec, load_suite
from evalkit.types import Sample


def test_suite_executor_field_and_fingerprint(make_suite: Callable[..., Path]) -> None:
    plain = load_suite(make_suite())
    assert plain.spec.executor is None
    short = load_suite(make_suite(extra="executor: ray\n", name="a.yaml"))
    assert short.spec.executor == ExecutorSpec(kind="ray")
    full = load_suite(
        make_suite(extra="executor: {kind: ray, workers: 3, address: auto}\n", name="b.yaml")
    )
    assert full.spec.executor == ExecutorSpec(kind="ray", workers=3, address="auto")
    # Where a suite runs is not what it is: the fingerprint (and so --resume) ignores it.
    assert plain.fingerprint() == short.fingerprint() == full.fingerprint()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("executor: rya\n", r"s\.yaml:\d+: executor\.kind: Input should be 'local' or 'ray'"),
        ("executor: {kind: ray, worker: 2}\n", r"unknown key 'worker'\. Did you mean 'workers'"),
        ("executor: {kind: ray, workers: 0}\n", r"executor\.workers: .*greater than or equal"),
    ],
)
def test_bad_executor_field_names_path_and_fix(
    make_suite: Callable[..., Path], extra: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_suite(make_suite(extra=extra))


def test_command_line_overrides_suite_field_by_field() -> None:
    suite = ExecutorSpec(kind="ray", workers=4, address="auto")
    merged = merge_specs(suite, ExecutorSpec(workers=2))
    assert (merged.kind, merged.workers, merged.address) == ("ray", 2, "auto")
    assert merge_specs(suite, ExecutorSpec(kind="local")).kind == "local"
    assert merge_specs(None, None) == ExecutorSpec()
    assert merge_specs(suite, "local") == ExecutorSpec(kind="local", workers=4, address="auto")
    with pytest.raises(ConfigError, match=r"executor 'rya': expected 'local' or 'ray'\. Did you"):
        merge_specs("rya")
    assert isinstance(make_executor(None), LocalExecutor)


def test_local_executor_yields_batches_in_order(make_suite: Callable[..., Path]) -> None:
    from evalkit.adapters import build_adapter
    from evalkit.types import GenerateRequest

    task = load_suite(make_suite()).tasks[0]
    adapter = build_adapter("scripted:echo")
    slot = TaskSlot(task=task, adapter=adapter, info=adapter.info(), spec="scripted:echo")
    batches = [
        Batch(
            task,
            (Sample(id=str(i), inputs={"question": "a"}, references=("a",)),),
            (GenerateRequest(prompt="a", task="t", sample_id=str(i)),),
        )
        for i in range(3)
    ]
    with make_executor(ExecutorSpec()) as executor:
        out = list(executor.run(batches, {"t": slot}, None))
    assert [b for b, _ in out] == batches
    assert [lines[0]["id"] for _, lines in out] == ["0", "1", "2"]
    assert all(lines[0]["prediction"] == "a" and lines[0]["error"] is None for _, lines in out)
    assert all(set(lines[0]["stats"]) == {"exact_match", "token_f1"} for _, lines in out)


def test_missing_ray_is_a_config_error_before_anything_runs(
    tmp_path: Path, make_suite: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    suite = make_suite()
    with pytest.raises(ConfigError, match=r"needs Ray.*pip install 'evalkit\[ray\]'"):
        run_suite(
            suite, "scripted:echo", tmp_path / "r", RunOptions(executor=ExecutorSpec(kind="ray"))
        )
    assert not (tmp_path / "r").exists()
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "run",
                str(suite),
                "-m",
                "scripted:echo",
                "-o",
                str(tmp_path / "c"),
                "--executor",
                "ray",
            ]
        )
    assert exc.value.code == 2
    # The suite's field asks for Ray too; --executor local overrides it.
    ray_suite = make_suite(extra="executor: ray\n", name="r.yaml")
    with pytest.raises(SystemExit) as exc:
        main(["run", str(ray_suite), "-m", "scripted:echo", "-o", str(tmp_path / "d"), "-q"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "run",
                str(ray_suite),
                "-m",
                "scripted:echo",
                "-o",
                str(tmp_path / "e"),
                "-q",
                "--executor",
                "local",
            ]
        )
    assert exc.value.code == 0
    assert load_run(tmp_path / "e").header["executor"] == {"kind": "local"}


def test_ray_address_with_local_executor_is_refused(
    tmp_path: Path, make_suite: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", str(make_suite()), "-m", "scripted:echo", "-o", str(tmp_path / "r")]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--executor", "local", "--ray-address", "auto"])
    assert exc.value.code == 2
    assert "--ray-address needs --executor ray" in capsys.readouterr().err


def test_python_api_takes_the_executor_by_name(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    import evalkit

    run = evalkit.run(make_suite(), "scripted:echo", tmp_path / "r", executor="local")
    assert run.header["executor"] == {"kind": "local"}
    with pytest.raises(ConfigError, match="Did you mean 'local'"):
        evalkit.run(make_suite(), "scripted:echo", tmp_path / "s", executor="locale")
    assert not (tmp_path / "s").exists()
