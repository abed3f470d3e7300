"""The example GitHub Actions workflow (docs/evalkit-pull-request.yml) runs, step by step.

The test plays the workflow's job the way a GitHub runner does: every `run:` step, in order,
through bash, in a fresh copy of the repository (its tracked and untracked-but-not-ignored
files, `git init`-ed: what a checkout of the lead's next commit holds) and a fresh virtual
environment set up by the workflow's own install step (scripts/setup.sh). Each step gets what
GitHub provides: GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and GITHUB_STEP_SUMMARY files of its
own, GITHUB_EVENT_NAME, GITHUB_EVENT_PATH (a pull_request event file), GITHUB_WORKSPACE,
RUNNER_TEMP and the rest; `if:` conditions and `${{ }}` values are evaluated (a small evaluator
of the expression syntax the workflow uses: contexts, ==, !=, &&, ||, !, status functions; an
expression it does not know fails the test, so the workflow cannot outgrow what is checked).

The `uses:` actions are simulated, each by what it does to the runner's disk:

- actions/checkout: the copy of the repository is the workspace;
- actions/setup-python: the fresh virtual environment is first on PATH (of the same Python
  minor version the step asks for);
- actions/cache/restore and actions/cache/save: a folder per scenario plays the cache store;
  save copies `path` into it, restore copies it back (nothing stored: nothing restored);
- actions/upload-artifact: `path` is copied into an artifacts folder under its `name`.

The pull-request comment is a `run:` step (scripts/pr_comment.py), so it runs for real, against
a fake GitHub REST API on 127.0.0.1 that keeps the comments of each pull request.

Overrides (OVERRIDES): EVALKIT_TORCH_INDEX (download.pytorch.org's CPU index on GitHub,
unreachable here) is emptied, so that setup.sh takes torch 2.13.0's CPU wheel from the local
index; PIP_COMPILE=0 skips install-time byte-compilation (speed only). Every job runs
SMALL_SUITE, three of the quickstart's tasks with their gates (every gate kind), in a third of
the time of the whole quickstart (which tests/test_first_hour.py runs as the README says).

Scenarios: a first pull request (main has no stored run yet: the baseline-relative gates are
reported as skipped, exit 0), main's push (stores the baseline), a clean pull request (same
outputs as main: exit 0, compare report written) and a regressing one (the pull request replaces
the replayed outputs with the worse system's: the gate fails and the job's last step exits 1,
yet compare.html, the summary and the comment are all written).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOW = ROOT / "docs" / "evalkit-pull-request.yml"
REPO = "acme/evalkit-demo"
PR_NUMBER = 7
MARKER = "<!-- evalkit-report -->"
#: What every step gets on top of the workflow's env: setup.sh takes torch from the local index
#: instead of download.pytorch.org's CPU index (unreachable here); and pip does not byte-compile
#: at install time (a speed setting only: modules compile when first imported).
OVERRIDES = {"EVALKIT_TORCH_INDEX": "", "PIP_COMPILE": "0"}
#: The tasks of the quickstart suite that the main / clean / regressing jobs run (written as
#: suites/ci-small.yaml, beside the quickstart): every gate kind, at a third of the time (the
#: set-level image and diversity tasks make compare slow).
SMALL_TASKS = ("translate", "qa", "lm_step0600")
SMALL_SUITE = "suites/ci-small.yaml"
#: Seconds the step may run; the install step gets more (it installs torch).
STEP_TIMEOUT = 900


def _workflow() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(doc, dict) and list(doc["jobs"]) == ["evaluate"], "one job, `evaluate`"
    return doc


# --- the expression syntax of `if:` and `${{ }}` -----------------------------------------------

_TOKEN = re.compile(r"\s*(\|\||&&|==|!=|!|\(|\)|'(?:[^']|'')*'|[A-Za-z_][\w.-]*)")
_STATUS_FUNCTIONS = ("always", "success", "failure", "cancelled")


class Expressions:
    """Evaluate GitHub Actions expressions over the contexts one step can see."""

    def __init__(self, contexts: dict[str, Any], job_failed: bool) -> None:
        self.contexts = contexts
        self.job_failed = job_failed

    def evaluate(self, text: str) -> Any:
        """The value of an expression (without its ``${{ }}``)."""
        tokens = self._tokenize(text)
        value, rest = self._or(tokens)
        assert not rest, f"expression {text!r}: unexpected {rest}"
        return value

    def condition(self, text: str | None) -> bool:
        """Whether a step with ``if: text`` runs (GitHub adds ``success() &&`` unless the
        condition calls a status function itself)."""
        if text is None:
            return not self.job_failed
        text = str(text).strip()
        if text.startswith("${{") and text.endswith("}}"):
            text = text[3:-2]
        value = bool(self.evaluate(text))
        if not any(f"{name}()" in text for name in _STATUS_FUNCTIONS):
            value = value and not self.job_failed
        return value

    def substitute(self, text: str) -> str:
        """A string with every ``${{ expr }}`` replaced by its value (null: empty)."""

        def one(match: re.Match[str]) -> str:
            value = self.evaluate(match.group(1))
            return "" if value is None else str(value)

        return re.sub(r"\$\{\{(.*?)\}\}", one, text)

    @staticmethod
    def _tokenize(text: str) -> list[str]:
        tokens, pos = [], 0
        while text[pos:].strip():
            match = _TOKEN.match(text, pos)
            assert match, f"expression {text!r}: cannot read {text[pos:]!r}"
            tokens.append(match.group(1))
            pos = match.end()
        return tokens

    def _or(self, tokens: list[str]) -> tuple[Any, list[str]]:
        value, tokens = self._and(tokens)
        while tokens[:1] == ["||"]:
            right, tokens = self._and(tokens[1:])
            value = value or right
        return value, tokens

    def _and(self, tokens: list[str]) -> tuple[Any, list[str]]:
        value, tokens = self._not(tokens)
        while tokens[:1] == ["&&"]:
            right, tokens = self._not(tokens[1:])
            value = value and right
        return value, tokens

    def _not(self, tokens: list[str]) -> tuple[Any, list[str]]:
        if tokens[:1] == ["!"]:
            value, tokens = self._not(tokens[1:])
            return not value, tokens
        left, tokens = self._primary(tokens)
        if tokens[:1] in (["=="], ["!="]):
            op = tokens[0]
            right, tokens = self._primary(tokens[1:])
            same = (
                str(left if left is not None else "").lower()
                == str(right if right is not None else "").lower()
            )  # GitHub compares strings ignoring case; null is ''
            return same if op == "==" else not same, tokens
        return left, tokens

    def _primary(self, tokens: list[str]) -> tuple[Any, list[str]]:
        assert tokens, "expression ends too early"
        head, rest = tokens[0], tokens[1:]
        if head == "(":
            value, rest = self._or(rest)
            assert rest[:1] == [")"], "unbalanced parenthesis"
            return value, rest[1:]
        if head.startswith("'"):
            return head[1:-1].replace("''", "'"), rest
        if head in _STATUS_FUNCTIONS and rest[:2] == ["(", ")"]:
            value = {
                "always": True,
                "success": not self.job_failed,
                "failure": self.job_failed,
                "cancelled": False,
            }[head]
            return value, rest[2:]
        if head in ("true", "false"):
            return head == "true", rest
        return self._lookup(head), rest

    def _lookup(self, path: str) -> Any:
        node: Any = self.contexts
        parts = path.split(".")
        assert parts[0] in self.contexts, f"unknown context {parts[0]!r} in {path!r}"
        for part in parts:
            node = node.get(part) if isinstance(node, dict) else None
        return node


def test_the_expression_evaluator_reads_the_workflow_syntax() -> None:
    contexts = {
        "github": {"event_name": "pull_request"},
        "steps": {"a": {"outcome": "success", "outputs": {"found": "true"}}},
    }
    ok, failed = Expressions(contexts, False), Expressions(contexts, True)
    assert ok.condition("github.event_name == 'pull_request'")
    assert not ok.condition("github.event_name == 'push'")
    assert not failed.condition("github.event_name == 'pull_request'")  # implicit success()
    assert failed.condition("always() && steps.a.outputs.found == 'true'")
    assert not ok.condition("always() && steps.missing.outputs.found == 'true'")
    assert ok.condition("!(steps.a.outcome != 'success') || false")
    assert ok.substitute("x-${{ steps.a.outputs.found }}-${{ steps.b.outputs.c }}") == "x-true-"
    with pytest.raises(AssertionError, match="unknown context"):
        ok.evaluate("secretz.TOKEN")


# --- a fake GitHub REST API for the comment step -------------------------------------------------


@dataclass
class FakeGitHub:
    """Issue comments of one repository, served on 127.0.0.1 like api.github.com serves them."""

    token: str = "ghs_fake-job-token"
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    refuse: int | None = None  # answer every request with this status (403: a fork's token)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest's output clean
                pass

            def _answer(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str) -> None:
                api.requests.append((method, self.path))
                if self.headers.get("Authorization") != f"Bearer {api.token}":
                    return self._answer(401, {"message": "Bad credentials"})
                if api.refuse is not None:
                    return self._answer(api.refuse, {"message": "Resource not accessible"})
                size = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(size) or b"null")
                url = urlparse(self.path)
                issue = re.fullmatch(rf"/repos/{REPO}/issues/(\d+)/comments", url.path)
                edit = re.fullmatch(rf"/repos/{REPO}/issues/comments/(\d+)", url.path)
                if issue and method == "GET":
                    query = parse_qs(url.query)
                    per_page = int(query.get("per_page", ["30"])[0])
                    page = int(query.get("page", ["1"])[0])
                    rows = api.comments.get(int(issue.group(1)), [])
                    return self._answer(200, rows[(page - 1) * per_page : page * per_page])
                if issue and method == "POST":
                    rows = api.comments.setdefault(int(issue.group(1)), [])
                    new_id = 1000 + sum(len(v) for v in api.comments.values())
                    rows.append({"id": new_id, "body": payload["body"]})
                    return self._answer(201, rows[-1])
                if edit and method == "PATCH":
                    for row in (r for rows in api.comments.values() for r in rows):
                        if row["id"] == int(edit.group(1)):
                            row["body"] = payload["body"]
                            return self._answer(200, row)
                return self._answer(404, {"message": "Not Found"})

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def do_PATCH(self) -> None:
                self._route("PATCH")

        return Handler

    def reports(self, number: int = PR_NUMBER) -> list[dict[str, Any]]:
        """The evalkit comments on a pull request."""
        return [c for c in self.comments.get(number, []) if c["body"].startswith(MARKER)]


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    api = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), api.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield api
    server.shutdown()
    server.server_close()


# --- the job player ------------------------------------------------------------------------------


@dataclass
class StepResult:
    """What one step did."""

    name: str
    outcome: str  # success, failure or skipped
    returncode: int | None = None
    output: str = ""


@dataclass
class JobResult:
    """What a played job left: per-step results, the summary, artifacts and the cache store."""

    steps: list[StepResult]
    failed: bool
    summary: str
    artifacts: Path
    workspace: Path

    def step(self, name_or_id: str) -> StepResult:
        return next(s for s in self.steps if name_or_id in s.name)

    def failing(self) -> list[str]:
        return [
            f"{s.name} (exit {s.returncode}):\n{s.output[-3000:]}"
            for s in self.steps
            if s.outcome == "failure"
        ]


def _read_commands_file(path: Path) -> dict[str, str]:
    """A GITHUB_OUTPUT / GITHUB_ENV file: ``k=v`` lines and ``k<<EOF`` blocks."""
    out: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delim = line.split("<<", 1)
            end = lines.index(delim, i + 1)
            out[key] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if line.strip():
            key, _, value = line.partition("=")
            out[key] = value
        i += 1
    return out


@dataclass
class Runner:
    """A GitHub-hosted runner's view of one job: workspace, temp dir, tool cache, event."""

    workspace: Path
    venv: Path
    temp: Path
    cache_store: Path
    event_name: str
    api_url: str = "http://127.0.0.1:9"  # nothing listens there: a step that calls out fails
    token: str = "ghs_fake-job-token"
    #: Run only the steps after this step id (the install step already ran in this venv).
    start_after: str | None = None
    #: Run only up to and including this step id.
    stop_after: str | None = None
    #: Variables set on top of the workflow's (the test's stand-in for editing its env).
    overrides: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.artifacts = self.temp / "artifacts"
        self.sha = "0123456789abcdef0123456789abcdef01234567"
        self.env_file_values: dict[str, str] = {}
        self.extra_path: list[str] = []

    def _event(self) -> Path:
        path = self.temp / "event.json"
        if self.event_name == "pull_request":
            event: dict[str, Any] = {
                "action": "synchronize",
                "number": PR_NUMBER,
                "pull_request": {
                    "number": PR_NUMBER,
                    "head": {"ref": "feature", "sha": self.sha},
                    "base": {"ref": "main"},
                },
                "repository": {"full_name": REPO},
            }
        else:
            event = {"ref": "refs/heads/main", "after": self.sha, "repository": {"full_name": REPO}}
        path.write_text(json.dumps(event), encoding="utf-8")
        return path

    def _base_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GITHUB_", "RUNNER_", "PYTEST_", "COV_"))
            and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
        }
        ref = "refs/heads/main" if self.event_name == "push" else f"refs/pull/{PR_NUMBER}/merge"
        env.update(
            {
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_EVENT_NAME": self.event_name,
                "GITHUB_EVENT_PATH": str(self._event()),
                "GITHUB_WORKSPACE": str(self.workspace),
                "GITHUB_REPOSITORY": REPO,
                "GITHUB_REF": ref,
                "GITHUB_SHA": self.sha,
                "GITHUB_RUN_ID": "1",
                "GITHUB_API_URL": self.api_url,
                "GITHUB_SERVER_URL": "https://github.com",
                "RUNNER_TEMP": str(self.temp),
                "RUNNER_OS": "Linux",
                "VIRTUAL_ENV": str(self.venv),
            }
        )
        return env

    def contexts(self, steps: dict[str, Any]) -> dict[str, Any]:
        ref = "refs/heads/main" if self.event_name == "push" else f"refs/pull/{PR_NUMBER}/merge"
        return {
            "github": {
                "event_name": self.event_name,
                "ref": ref,
                "sha": self.sha,
                "token": self.token,
                "repository": REPO,
                "workspace": str(self.workspace),
            },
            "runner": {"temp": str(self.temp), "os": "Linux"},
            "steps": steps,
            "env": {},
        }

    def play(self) -> JobResult:
        """Run the job's steps in order; returns what they did."""
        doc = _workflow()
        job = doc["jobs"]["evaluate"]
        self.temp.mkdir(parents=True, exist_ok=True)
        base = self._base_env()
        steps_ctx: dict[str, Any] = {}
        results: list[StepResult] = []
        summary: list[str] = []
        failed, started = False, self.start_after is None
        for n, step in enumerate(job["steps"]):
            name = str(step.get("name") or step.get("uses") or step.get("run"))
            sid = str(step.get("id") or f"step{n}")
            if not started:
                started = sid == self.start_after
                continue
            expr = Expressions(self.contexts(steps_ctx), failed)
            if not expr.condition(step.get("if")):
                results.append(StepResult(name, "skipped"))
                steps_ctx[sid] = {"outcome": "skipped", "conclusion": "skipped", "outputs": {}}
            else:
                env = dict(base)
                for scope in (doc.get("env") or {}, job.get("env") or {}, step.get("env") or {}):
                    env.update({k: expr.substitute(str(v)) for k, v in scope.items()})
                env.update(self.env_file_values)
                env.update(OVERRIDES)
                env.update(self.overrides)
                env["PATH"] = os.pathsep.join(
                    [*self.extra_path, str(self.venv / "bin"), os.environ["PATH"]]
                )
                result, outputs, step_summary = self._one(step, name, env, expr, n)
                results.append(result)
                summary.append(step_summary)
                steps_ctx[sid] = {
                    "outcome": result.outcome,
                    "conclusion": result.outcome,
                    "outputs": outputs,
                }
                if result.outcome == "failure" and not step.get("continue-on-error"):
                    failed = True
            if sid == self.stop_after:
                break
        return JobResult(results, failed, "".join(summary), self.artifacts, self.workspace)

    def _one(
        self, step: dict[str, Any], name: str, env: dict[str, str], expr: Expressions, n: int
    ) -> tuple[StepResult, dict[str, str], str]:
        files = {k: self.temp / f"_{k.lower()}_{n}" for k in ("OUTPUT", "ENV", "PATH")}
        files["STEP_SUMMARY"] = self.temp / f"_step_summary_{n}"
        for key, path in files.items():
            path.write_text("", encoding="utf-8")
            env[f"GITHUB_{key}"] = str(path)
        if "uses" in step:
            with_ = {k: expr.substitute(str(v)) for k, v in (step.get("with") or {}).items()}
            result, outputs = self._action(str(step["uses"]), with_, name)
            return result, outputs, ""
        script = self.temp / f"_step_{n}.sh"
        script.write_text(str(step["run"]), encoding="utf-8")
        # GitHub's `bash` shell; a step without `shell:` gets `bash -e {0}`.
        shell = step.get("shell")
        cmd = (
            ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
            if shell == "bash"
            else ["bash", "-e"]
        )
        assert shell in (None, "bash"), f"{name}: shell {shell!r} is not simulated"
        proc = subprocess.run(
            [*cmd, str(script)],
            cwd=self.workspace / str(step.get("working-directory", ".")),
            env=env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        outcome = "success" if proc.returncode == 0 else "failure"
        self.env_file_values.update(_read_commands_file(files["ENV"]))
        self.extra_path[:0] = files["PATH"].read_text(encoding="utf-8").split()
        return (
            StepResult(name, outcome, proc.returncode, proc.stdout + proc.stderr),
            _read_commands_file(files["OUTPUT"]),
            files["STEP_SUMMARY"].read_text(encoding="utf-8"),
        )

    def _action(
        self, uses: str, with_: dict[str, str], name: str
    ) -> tuple[StepResult, dict[str, str]]:
        action = uses.split("@")[0]
        outputs: dict[str, str] = {}
        if action == "actions/checkout":
            assert (self.workspace / ".git").is_dir()  # the fresh copy is the checkout
        elif action == "actions/setup-python":
            wanted = with_["python-version"]
            have = subprocess.run(
                [str(self.venv / "bin" / "python"), "-c", "import sys; print(sys.version)"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert have.startswith(wanted + "."), f"{name}: asks for {wanted}, the venv has {have}"
        elif action == "actions/cache/restore":
            stored = self.cache_store / with_["path"]
            if stored.is_dir():
                shutil.copytree(stored, self.workspace / with_["path"])
                outputs["cache-matched-key"] = with_.get("restore-keys", "")
            outputs["cache-hit"] = "false"  # a prefix match: never the exact key of this sha
        elif action == "actions/cache/save":
            source = self.workspace / with_["path"]
            assert source.is_dir(), f"{name}: nothing at {with_['path']} to store"
            shutil.rmtree(self.cache_store / with_["path"], ignore_errors=True)
            shutil.copytree(source, self.cache_store / with_["path"])
        elif action == "actions/upload-artifact":
            source = self.workspace / with_["path"]
            if source.exists():
                shutil.copytree(source, self.artifacts / with_["name"])
        else:
            pytest.fail(f"{name}: action {uses} is not simulated by this test")
        return StepResult(name, "success", 0), outputs


# --- fixtures: one fresh copy and venv per test session ------------------------------------------


def _fresh_copy(dest: Path) -> Path:
    """The working tree's tracked and untracked-but-not-ignored files, as a new git repository."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():  # a file deleted in the working tree is still listed by -c
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "checkout"], cwd=dest, check=True)
    return dest


@dataclass
class Setup:
    """The fresh clone and virtual environment, installed by the workflow's install step."""

    repo: Path
    venv: Path
    install_seconds: float
    response_cache: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    """A fresh copy of the repository and a fresh venv, installed by the workflow's own steps
    (checkout, setup-python, install); measured, since it is the slow part of this file."""
    base = tmp_path_factory.mktemp("ci")
    repo = _fresh_copy(base / "repo")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    runner = Runner(
        repo, venv, base / "install-temp", base / "no-cache", "push", stop_after="install"
    )
    started = time.monotonic()
    job = runner.play()
    seconds = time.monotonic() - started
    assert [s.outcome for s in job.steps] == ["success"] * 3, job.failing()
    print(f"\nworkflow install step (fresh venv, scripts/setup.sh): {seconds:.0f} s")
    _write_small_suite(repo)
    return Setup(repo, venv, seconds, base / "response-cache")


def _write_small_suite(repo: Path) -> None:
    """suites/ci-small.yaml: the quickstart's SMALL_TASKS, with their gates, as they are."""
    doc = yaml.safe_load((repo / "suites" / "quickstart.yaml").read_text(encoding="utf-8"))
    doc["tasks"] = [t for t in doc["tasks"] if t["name"] in SMALL_TASKS]
    assert [t["name"] for t in doc["tasks"]] == list(SMALL_TASKS)
    kinds = {k for t in doc["tasks"] for g in t.get("gates", []) for k in g}
    assert {"min", "max", "max_drop", "no_significant_regression"} <= kinds, kinds
    doc["name"] = "ci-small"
    (repo / SMALL_SUITE).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


@pytest.fixture
def play(setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., JobResult]:
    """Play the job after its install step, in a new copy of the installed checkout."""
    # One response cache for every job of the module: what a job computes, the next reuses
    # (a runner starts empty; the outputs are the same either way, only slower).
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(setup.response_cache))

    def run(
        event: str,
        store: Path,
        api: FakeGitHub | None = None,
        change: Callable[[Path], None] | None = None,
        name: str = "job",
        suite: str | None = SMALL_SUITE,
    ) -> JobResult:
        workspace = tmp_path / name / "workspace"
        shutil.copytree(setup.repo, workspace, symlinks=True)
        if change is not None:
            change(workspace)
        runner = Runner(
            workspace, setup.venv, tmp_path / name / "temp", store, event, start_after="install"
        )
        if suite is not None:
            runner.overrides["SUITE"] = suite
        if api is not None:
            runner.api_url, runner.token = api.url, api.token
        return runner.play()

    return run


@pytest.fixture(scope="module")
def main_store(setup: Setup, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cache store after main's push job: it holds main's run, the pull requests' baseline."""
    base = tmp_path_factory.mktemp("main")
    store = base / "cache-store"
    store.mkdir()
    workspace = base / "workspace"
    shutil.copytree(setup.repo, workspace, symlinks=True)
    old = os.environ.get("EVALKIT_CACHE_DIR")
    os.environ["EVALKIT_CACHE_DIR"] = str(setup.response_cache)
    try:
        runner = Runner(workspace, setup.venv, base / "temp", store, "push", start_after="install")
        runner.overrides["SUITE"] = SMALL_SUITE
        job = runner.play()
    finally:
        if old is None:
            os.environ.pop("EVALKIT_CACHE_DIR", None)
        else:
            os.environ["EVALKIT_CACHE_DIR"] = old
    assert not job.failed, job.failing()
    assert job.step("Comment").outcome == "skipped"  # no pull request to comment on
    assert job.step("Compare").outcome == "skipped"  # main is the baseline
    assert (store / "evalkit-baseline" / "main" / "results.json").is_file()
    return store


def _gates(job: JobResult) -> list[dict[str, Any]]:
    """The gate verdicts of the job's run, from its JUnit file (one test case per gate)."""
    root = ET.parse(job.artifacts / "evalkit-reports" / "gate-junit.xml").getroot()
    return [
        {
            "name": c.get("name"),
            "failed": c.find("failure") is not None,
            "skipped": c.find("skipped") is not None,
        }
        for c in root.iter("testcase")
        if str(c.get("name")).startswith("gate ")
    ]


def _final_step(job: JobResult) -> StepResult:
    return job.steps[-1]


# --- scenarios -----------------------------------------------------------------------------------


def test_first_pull_request_without_a_baseline_passes_and_says_so(
    play: Callable[..., JobResult], github: FakeGitHub, tmp_path: Path
) -> None:
    store = tmp_path / "empty-store"
    store.mkdir()
    job = play("pull_request", store, github, name="first")
    assert not job.failed, job.failing()
    assert _final_step(job).name == "Fail when a gate failed"
    assert _final_step(job).returncode == 0
    assert job.step("Compare").outcome == "skipped"  # nothing to compare with
    assert "No stored run of main yet" in job.summary
    assert "SKIP" in job.summary.upper() or "skipped" in job.summary
    reports = job.artifacts / "evalkit-reports"
    assert (reports / "head" / "report.html").is_file()
    assert (reports / "gate.md").is_file()
    assert not (reports / "compare").exists()
    # The baseline-relative gates are skipped, the absolute ones still checked.
    gates = _gates(job)
    assert any(g["skipped"] for g in gates) and not any(g["failed"] for g in gates)
    assert any(not g["skipped"] for g in gates), "the absolute gates must still apply"
    (comment,) = github.reports()
    assert "No stored run of main yet" in comment["body"]


def test_clean_pull_request_passes_with_a_comparison(
    play: Callable[..., JobResult], github: FakeGitHub, main_store: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    shutil.copytree(main_store, store)
    job = play("pull_request", store, github, name="clean")
    assert not job.failed, job.failing()
    assert job.step("Compare").outcome == "success"
    assert _final_step(job).returncode == 0
    reports = job.artifacts / "evalkit-reports"
    assert (reports / "compare" / "compare.html").is_file()
    assert "no significant regression" in (reports / "compare" / "summary.md").read_text()
    assert not any(g["failed"] or g["skipped"] for g in _gates(job))
    assert "No stored run of main yet" not in job.summary
    assert "compare" in job.summary.lower()
    (comment,) = github.reports()
    assert comment["body"] == MARKER + "\n" + (reports / "comment.md").read_text()


def test_regressing_pull_request_fails_at_the_end_with_every_report(
    play: Callable[..., JobResult], github: FakeGitHub, main_store: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    shutil.copytree(main_store, store)

    def worse_outputs(workspace: Path) -> None:
        # The pull request's model now answers like the bundled worse system.
        shutil.copy(
            ROOT / "suites/quickstart/sys_b.jsonl", workspace / "suites/quickstart/sys_a.jsonl"
        )

    # An older evalkit comment from an earlier push of this pull request: updated, not doubled.
    github.comments[PR_NUMBER] = [
        {"id": 1, "body": "LGTM"},
        {"id": 2, "body": MARKER + "\nold report"},
    ]
    job = play("pull_request", store, github, change=worse_outputs, name="regress")
    assert job.failed
    final = _final_step(job)
    assert final.name == "Fail when a gate failed" and final.returncode == 1, final.output
    # Only the last step failed: compare, the upload and the comment all ran.
    assert [s.name for s in job.steps if s.outcome == "failure"] == [final.name]
    assert job.step("Compare").outcome == "success"
    reports = job.artifacts / "evalkit-reports"
    assert (reports / "compare" / "compare.html").is_file()
    assert (reports / "compare" / "summary.md").is_file()
    assert any(g["failed"] for g in _gates(job))
    assert "FAIL" in job.summary.upper()
    assert len(github.comments[PR_NUMBER]) == 2
    (comment,) = github.reports()
    assert comment["id"] == 2 and "old report" not in comment["body"]
    assert ("PATCH", f"/repos/{REPO}/issues/comments/2") in github.requests
    assert not any(method == "POST" for method, _ in github.requests)


# --- the comment script on its own ---------------------------------------------------------------


def _comment(github: FakeGitHub, tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    body = tmp_path / "comment.md"
    body.write_text(text, encoding="utf-8")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": PR_NUMBER, "pull_request": {"number": PR_NUMBER}}))
    env = dict(
        os.environ,
        GITHUB_API_URL=github.url,
        GITHUB_REPOSITORY=REPO,
        GITHUB_EVENT_PATH=str(event),
        GITHUB_TOKEN=github.token,
    )
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "pr_comment.py"), str(body)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_comment_script_creates_one_comment_then_updates_it(
    github: FakeGitHub, tmp_path: Path
) -> None:
    first = _comment(github, tmp_path, "report 1")
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    second = _comment(github, tmp_path, "report 2")
    assert second.returncode == 0, second.stderr
    assert "updated" in second.stdout
    assert [c["body"] for c in github.comments[PR_NUMBER]] == [f"{MARKER}\nreport 2"]


def test_comment_script_finds_its_comment_on_a_later_page(
    github: FakeGitHub, tmp_path: Path
) -> None:
    others = [{"id": i, "body": f"comment {i}"} for i in range(1, 151)]
    github.comments[PR_NUMBER] = [*others, {"id": 500, "body": f"{MARKER}\nold"}]
    proc = _comment(github, tmp_path, "new")
    assert proc.returncode == 0, proc.stderr
    assert github.comments[PR_NUMBER][-1] == {"id": 500, "body": f"{MARKER}\nnew"}
    assert len(github.comments[PR_NUMBER]) == 151


def test_comment_script_warns_when_the_token_may_not_comment(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.refuse = 403  # a pull request from a fork: its token is read-only
    proc = _comment(github, tmp_path, "report")
    assert proc.returncode == 0
    assert "::warning::" in proc.stdout and "HTTP 403" in proc.stdout
    github.refuse = 500
    assert _comment(github, tmp_path, "report").returncode == 1


def test_comment_script_without_a_pull_request_is_exit_2(
    github: FakeGitHub, tmp_path: Path
) -> None:
    body = tmp_path / "c.md"
    body.write_text("x")
    event = tmp_path / "push.json"
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    env = dict(
        os.environ,
        GITHUB_EVENT_PATH=str(event),
        GITHUB_REPOSITORY=REPO,
        GITHUB_TOKEN="t",
        GITHUB_API_URL=github.url,
    )
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "pr_comment.py"), str(body)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "pull_request.number" in proc.stderr and str(event) in proc.stderr
    assert github.requests == []
