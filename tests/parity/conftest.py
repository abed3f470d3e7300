"""Fixtures over the shared parity corpus (see tests/parity/_corpus.py)."""

from __future__ import annotations

import pytest

from tests.parity._corpus import Corpus, build_corpus


@pytest.fixture(scope="session", params=["single", "multi", "variable"])
def corpus(request: pytest.FixtureRequest) -> Corpus:
    return build_corpus(request.param)


@pytest.fixture(scope="session")
def variable_corpus() -> Corpus:
    return build_corpus("variable")
