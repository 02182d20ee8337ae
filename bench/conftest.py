import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import synthetic  # noqa: E402


@pytest.fixture(scope="session")
def synthetic_set():
    return synthetic()
