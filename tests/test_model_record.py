"""``model.Record`` gives tagguard's dataclasses the ``repr`` and ``==`` that ``@dataclass`` would generate.

Every subclass is compared with a twin made by ``@dataclass`` itself from the same fields."""
from __future__ import annotations

import dataclasses

import pytest

import tagguard.config
import tagguard.pricing.catalog
import tagguard.sources.base
import tagguard.sources.terraform.extract
import tagguard.sources.terraform.module
from tagguard.model import Record


# the modules that define records besides model (imported for their classes)
MODULES = (tagguard.config, tagguard.pricing.catalog, tagguard.sources.base, tagguard.sources.terraform.extract,
           tagguard.sources.terraform.module)


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_subclasses(sub))
    return out


RECORDS = sorted({c for c in _subclasses(Record) if c.__module__.startswith("tagguard.")}, key=lambda c: c.__qualname__)


def _twin(cls: type) -> type:
    """A dataclass with ``cls``'s fields and every method generated."""
    fields = dataclasses.fields(cls)
    ns = {"__annotations__": {f.name: "object" for f in fields}, "__qualname__": cls.__qualname__}
    for f in fields:
        ns[f.name] = dataclasses.field(default=None, init=f.init, repr=f.repr, compare=f.compare)
    return dataclasses.dataclass(type(cls.__name__, (), ns))


def _make(cls: type, values: dict):
    """An object of ``cls`` holding ``values`` (set as they are: ``__post_init__`` would share or check them)."""
    obj = cls.__new__(cls)
    for name, value in values.items():
        object.__setattr__(obj, name, value)
    return obj


def test_the_records_are_found():
    names = {c.__qualname__ for c in RECORDS}
    assert {"Resource", "Finding", "Compute", "Cost", "ScanResult", "Config", "ScanOptions", "RateCard"} <= names


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_repr_and_eq_are_what_dataclass_generates(cls):
    assert dataclasses.is_dataclass(cls) and cls.__repr__ is Record.__repr__ and cls.__eq__ is Record.__eq__
    twin = _twin(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {n: [i, f"v{i}", None, 1.0][i % 4] for i, n in enumerate(names)}
    a, b = _make(cls, values), _make(cls, dict(values))
    ta, tb = _make(twin, values), _make(twin, dict(values))
    assert repr(a) == repr(ta)
    assert (a == b) is (ta == tb) is True
    for n in names:  # one field different at a time: unequal where the field is compared
        other = dict(values, **{n: ["changed"]})
        assert (a == _make(cls, other)) is (ta == _make(twin, other)), n
        assert repr(_make(cls, other)) == repr(_make(twin, other)), n
    assert a.__eq__(object()) is NotImplemented and ta.__eq__(object()) is NotImplemented
    assert cls.__hash__ is None and twin.__hash__ is None
    # a record that holds itself: "..." where it recurs, as the generated repr writes it
    first = next(f.name for f in dataclasses.fields(cls) if f.repr)
    loop, tloop = _make(cls, dict(values, **{first: []})), _make(twin, dict(values, **{first: []}))
    getattr(loop, first).append(loop)
    getattr(tloop, first).append(tloop)
    assert repr(loop) == repr(tloop)
