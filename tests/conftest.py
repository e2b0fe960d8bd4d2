import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A developer's `tagguard pricing refresh` writes ~/.cache/tagguard/ratecard.local.json, which every
# command then prices with. Tests (and the CLIs they start) use the shipped rate card only.
os.environ["TAGGUARD_LOCAL_RATECARD"] = str(ROOT / ".tools" / "no-local-ratecard.json")


@pytest.fixture
def repo_root() -> Path:
    return ROOT


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds (still runs by default)")
