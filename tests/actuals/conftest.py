import pytest

pytest.importorskip("duckdb")

from billkit import CONFIG, HAND_ROWS, write_csv  # noqa: E402  (also puts benchmarks/ on sys.path)


@pytest.fixture
def hand_bill(tmp_path):
    (tmp_path / ".git").mkdir()
    cfg = tmp_path / ".tagguard.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    path = write_csv(tmp_path / "bill.csv", HAND_ROWS)
    return tmp_path, path, cfg
