"""The scripted adapter: numeric ``fail_ids`` from the command line, script files in info()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.adapters.scripted import ScriptedAdapter
from evalkit.errors import ConfigError
from evalkit.types import GenerateRequest


def test_numeric_fail_ids_as_model_args_give_json_numbers() -> None:
    # ``--model-arg fail_ids=2`` is parsed as the JSON number 2.
    for ids in (2, [2, 3], "2,3"):
        a = ScriptedAdapter("echo", fail_ids=ids)
        out = a.generate([GenerateRequest("x", sample_id="2"), GenerateRequest("y", sample_id="1")])
        assert out[0].error == "scripted failure for sample 2"
        assert out[1].text == "y"


def test_editing_a_script_file_changes_the_adapter_identity(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps({"responses": {"a": "one"}}), encoding="utf-8")
    before = ScriptedAdapter(str(script)).info()
    script.write_text(json.dumps({"responses": {"a": "two"}}), encoding="utf-8")
    after = ScriptedAdapter(str(script)).info()
    assert before["script_sha256"] != after["script_sha256"]
    assert "script_sha256" not in ScriptedAdapter("echo").info()


def test_a_script_that_is_not_json_is_a_config_error(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_bytes(b"{not json")
    with pytest.raises(ConfigError, match="not a JSON script file"):
        ScriptedAdapter(str(script))
