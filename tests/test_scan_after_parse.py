"""Issue 13, everything after the HCL parse: the work a Terraform scan does besides parsing, kept small.

These check behaviour (what is imported, what is looked up again, what a memo returns after a change), not
timings: the figures are in BENCHMARKS.md ("Terraform scan against a bare parse").
"""
from __future__ import annotations

import os
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import tagguard
from clikit import TINY_MODULE as TINY
from clikit import after_scan as _after_scan




def _modules_after_scan(tmp_path, *prefixes: str) -> list[str]:
    """The modules (of ``prefixes``) a fresh process has imported after a JSON scan of a one-resource module."""
    return _after_scan(tmp_path, f"sorted(m for m in sys.modules if m.startswith({prefixes!r}))")


def test_a_scan_imports_no_module_only_downloads_and_refreshes_need(tmp_path):
    # importlib.resources (for the shipped data of an on-disk install) brings tempfile, shutil, zipfile,
    # lzma, bz2 and random; the module cache and `pricing refresh` imported tempfile/shutil/statistics
    # at their top for the one function that writes: ~15 ms of every scan together
    assert _modules_after_scan(tmp_path, "importlib.resources", "zipfile", "tempfile", "shutil", "random",
                               "statistics") == []


def test_a_zip_imported_package_still_goes_through_importlib_resources(tmp_path, monkeypatch):
    from importlib.resources import files

    from tagguard import resources

    archive = tmp_path / "pkgs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped_pkg_h5/__init__.py", "")
        zf.writestr("zipped_pkg_h5/table.json", "{}")
    monkeypatch.syspath_prepend(str(archive))
    try:
        root = resources._package_root("zipped_pkg_h5")
        assert root == Path(str(files("zipped_pkg_h5")))
        assert str(archive) in str(root)
    finally:
        sys.modules.pop("zipped_pkg_h5", None)
    # an on-disk package: its directory, the same one importlib.resources names
    assert resources._package_root("tagguard.sources.terraform") == \
        resources._package_root("tagguard").joinpath("sources", "terraform")
    assert resources._package_root("tagguard.sources.terraform") == Path(str(files("tagguard.sources.terraform")))


def test_a_json_scan_of_ascii_text_compiles_none_of_the_escaping_expressions(tmp_path):
    # formats/escape.py compiled its ten expressions at import (~4 ms of every command); a JSON report of
    # ASCII text needs none of them (json_safe's fast path), a bidi control in a tag value needs one
    compiled = ("[n for n, v in sorted(vars(sys.modules['tagguard.formats.escape']).items())"
                " if type(v).__name__ == '_Lazy' and v._rx is not None]")
    assert _after_scan(tmp_path, compiled) == []
    assert _after_scan(tmp_path, compiled, TINY.replace('"p"', '"p\u202e"')) == ["_JSON_RAW"]
    assert "\\u202e" in (tmp_path / "r.json").read_text()


def _card_questions():
    from tagguard.pricing import catalog

    card = catalog.load()
    names = sorted(card.by_name) + [i.instance_type.upper() for i in card.instances.values()]
    names += ["g5.96xlarge", "a3-highgpu-4g", "zones/us-central1-a/machineTypes/a2-ultragpu-2g", "NC24ads_A100_v4",
              "standard_nd96isr_h200_v5", "g7e.2xlarge", "ml.g9.xlarge", "m5.large", "t3.micro", " p4d.24xlarge ",
              "", "n1-standard-8"]
    return card, names, (None, "aws", "gcp", "azure", "kubernetes", "AWS")


def test_rate_card_answers_are_the_same_remembered_or_not():
    card, names, providers = _card_questions()
    for name in names:
        for provider in providers:
            for _ in range(2):  # asked, then answered from the memo
                assert card.lookup(name, provider) is (card._lookup(name, provider) if name else None)
                assert card.find_family(name, provider) is (card._find_family(name, provider) if name else None)
                assert card.accelerator_info(name, provider) == card._accelerator_info(name, provider)
    # arguments that are not strings are answered, not remembered (nor a reason to fail)
    assert card.accelerator_info(None) is None and card.lookup(None) is None
    before = len(card._memo)
    assert card.lookup(["p4d.24xlarge"]) is None  # type: ignore[arg-type]
    assert len(card._memo) == before


def test_a_card_changed_in_place_answers_anew_after_forget():
    import dataclasses

    from tagguard.pricing import catalog

    shipped = catalog.load()
    card = dataclasses.replace(shipped, instances=dict(shipped.instances),
                               by_name={k: list(v) for k, v in shipped.by_name.items()})
    assert card._memo == {}  # a copy starts with its own, empty memo
    old = card.lookup("g5.xlarge", "aws")
    new = old._replace(on_demand=123.0)
    card.by_name["g5.xlarge"] = [new]
    assert card.lookup("g5.xlarge", "aws") is old  # the contract: edit in place, then forget()
    card.forget()
    assert card.lookup("g5.xlarge", "aws") is new
    assert shipped.lookup("g5.xlarge", "aws") is old


def test_a_scan_looks_each_instance_type_up_once_not_per_resource(tmp_path, monkeypatch):
    # the reader (is it accelerated?) and the pricer (its row, its family) asked the card about every
    # resource, each time normalising the name and matching it against the card's names and patterns
    from tagguard.config import Config
    from tagguard.pipeline import scan
    from tagguard.pricing import catalog

    seen: list[str] = []
    real = catalog._candidates

    def counting(instance_type):
        seen.append(instance_type)
        return real(instance_type)

    monkeypatch.setattr(catalog, "_candidates", counting)
    catalog.load().forget()
    (tmp_path / "main.tf").write_text("".join(
        f'resource "aws_instance" "gpu_{i}" {{\n  instance_type = "{("p4d.24xlarge", "g6.xlarge")[i % 2]}"\n'
        f'  tags = {{ project = "p" }}\n}}\n' for i in range(60)))
    result = scan([str(tmp_path)], Config(raw={"scope": "all"}))
    assert len(result.resources) == 60 and all(r.cost and r.cost.monthly_usd for r in result.resources)
    assert len(seen) <= 12, f"the rate card searched {len(seen)} times for 60 resources of 2 types"


def _overlay_reference(self, other):
    """TagMap.overlay as it was written before it was made faster (the semantics it must keep, order included)."""
    from tagguard.sources.terraform.extract import TagMap

    out = TagMap(dict(self.known), dict(self.unresolved), self.open or other.open,
                 other.open_reason or self.open_reason, dict(self.origins))
    for k, v in other.known.items():
        out.known[k] = v
        out.unresolved.pop(k, None)
    for k, r in other.unresolved.items():
        out.unresolved[k] = r
        out.known.pop(k, None)
    out.origins.update(other.origins)
    return out


def test_tag_map_overlay_absorb_and_apply_keep_their_meaning_and_order():
    import itertools
    import random

    from tagguard.model import Resource
    from tagguard.sources.terraform.extract import TagMap

    rng = random.Random(13)
    keys = ["a", "b", "c", "d", "e"]

    def tag_map():
        tm = TagMap(open=rng.random() < 0.3, open_reason=rng.choice([None, "x", "y"]))
        for k in rng.sample(keys, rng.randint(0, 4)):
            where = rng.random()
            if where < 0.6:
                tm.known[k] = f"v{rng.randint(0, 9)}"
            if where > 0.4:  # sometimes both, as a hand-built map may have
                tm.unresolved[k] = f"r{rng.randint(0, 9)}"
            tm.origins[k] = rng.choice(["provider", "resource", "asg"])
        return tm

    def state(tm):
        return (list(tm.known.items()), list(tm.unresolved.items()), tm.open, tm.open_reason, list(tm.origins.items()))

    for _ in range(3000):
        a, b = tag_map(), tag_map()
        before = (state(a), state(b))
        got, want = a.overlay(b), _overlay_reference(a, b)
        assert state(got) == state(want)
        assert (state(a), state(b)) == before  # neither side changed
        assert got.known is not a.known and got.unresolved is not a.unresolved and got.origins is not a.origins
        built = TagMap(dict(a.known), dict(a.unresolved), a.open, a.open_reason, dict(a.origins))
        built.absorb(b)  # the in-place form the ASG tag blocks use
        assert state(built) == state(want) and state(b) == before[1]
        r1, want_res = (Resource(address="x", type="t", source="terraform") for _ in range(2))
        got.apply_to(r1)
        want_res.tags = dict(want.known)
        want_res.unresolved_tags = sorted(k for k in want.unresolved if k not in want.known)
        want_res.unresolved_reasons = {k: want.unresolved[k] for k in want_res.unresolved_tags}
        want_res.tags_open, want_res.open_reason, want_res.tag_origins = want.open, want.open_reason, dict(want.origins)
        assert r1 == want_res and r1.tags is not got.known and r1.tag_origins is not got.origins
    for a, b in itertools.product([TagMap(), TagMap(known={"a": "1"})], repeat=2):
        assert state(a.overlay(b)) == state(_overlay_reference(a, b))


def test_a_reports_one_encoder_writes_what_json_dumps_writes():
    import json
    import math

    import pytest

    from tagguard.formats.json_format import _one_encoder

    _ENCODE = _one_encoder()

    items = [{"a": 1, "b": [1.5, -0.0, 1e300, 2 ** 70, None, True, False], "c": {"d": "é\x7f\u202e\ud800", "e": []}},
             {"k": "v" * 10_000}, {"n": math.inf}, {}, {"x": {"y": {"z": [{"w": 1}]}}}, [1, 2], "text", 3.25]
    for item in items * 2:
        assert _ENCODE(item) == json.dumps(item, ensure_ascii=False)
    cyclic: dict = {}
    cyclic["me"] = cyclic
    with pytest.raises(ValueError, match="Circular"):
        _ENCODE(cyclic)
    with pytest.raises(TypeError):
        _ENCODE({"a": [1, {"b": object()}]})
    for item in items:  # a failed item leaves nothing behind for the next one
        assert _ENCODE(item) == json.dumps(item, ensure_ascii=False)
    shared = {"s": 1}
    assert _ENCODE({"a": shared, "b": [shared, shared]}) == json.dumps({"a": shared, "b": [shared, shared]})


def test_the_json_report_is_written_in_few_large_writes_with_the_same_text(tmp_path):
    import io

    from tagguard.config import Config
    from tagguard.formats.json_format import JsonFormatter
    from tagguard.pipeline import scan

    (tmp_path / "main.tf").write_text("".join(
        f'resource "aws_instance" "gpu_{i}" {{\n  instance_type = "p4d.24xlarge"\n  tags = {{ project = "p{i}" }}\n}}\n'
        for i in range(400)))
    result = scan([str(tmp_path)], Config(raw={"scope": "all"}))

    class Counting(io.StringIO):
        writes = 0

        def write(self, text):
            Counting.writes += 1
            return super().write(text)

    out = Counting()
    JsonFormatter().write(result, out)
    assert out.getvalue() == JsonFormatter().format(result)
    assert len(result.resources) + len(result.findings) > 800 and Counting.writes < 20, Counting.writes


def test_the_scan_command_runs_without_the_cyclic_collector_from_its_start(tmp_path):
    # calm_gc ran only once the config was loaded, after the config, taxonomy and model imports had
    # paid for six collections (~1.6 ms); now at the command's first line
    (tmp_path / "main.tf").write_text(TINY)
    code = textwrap.dedent(f"""
        import gc, sys
        from tagguard.cli import main
        runs = []
        gc.callbacks.append(lambda phase, info: runs.append(info["generation"]) if phase == "start" else None)
        try:
            main(["scan", {str(tmp_path)!r}, "--scope", "all", "-f", "json", "-o", {str(tmp_path / "r.json")!r}])
        except SystemExit:
            pass
        print(len(runs))
    """)
    paths = [str(Path(tagguard.__file__).resolve().parent.parent), *site.getsitepackages()]
    env = dict(os.environ, TAGGUARD_USER_CONFIG="", PYTHONPATH=os.pathsep.join(paths))
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, check=True)
    assert int(out.stdout.strip().splitlines()[-1]) <= 1, out.stdout  # click's own parsing may still trigger one
