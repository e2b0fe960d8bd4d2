"""Static evaluation of compiled HCL expressions.

The compiler in ``_compile.py`` turns tree-sitter nodes into the ``Expr``
objects below.  ``Expr.eval(scope)`` never raises: an expression Terraform would
reject becomes ``Unknown(reason, error=True)``; a value tagguard cannot know is
``Unknown(reason)``.

The scope protocol: any object with ``lookup(name) -> value`` for the root name
of a traversal (``var``, ``local``, ``each``, resource types...).  It may raise
``KeyError`` for names it does not know.  An optional ``read_file(relpath) ->
str | None`` lets ``file()``/``templatefile()`` read files.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Callable
from collections.abc import Iterable

from .values import (
    EvalError,
    PartialMap,
    Unknown,
    equal,
    find_unknown,
    norm_number,
    to_bool,
    to_number,
    to_string,
    type_name,
)

Reference = tuple[str, ...]


# --- scopes ---------------------------------------------------------------------


class MapScope(dict):
    """A scope backed by a plain dict (tests, templatefile variables)."""

    def __init__(self, *args: Any, files: dict[str, str] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.files = files

    def lookup(self, name: str) -> Any:
        if name in self:
            return self[name]
        raise KeyError(name)

    def read_file(self, path: str) -> str | None:
        if self.files is None:
            return None
        return self.files.get(path)


class ChildScope:
    """Binds iterator names (``for`` expressions, ``dynamic`` blocks) over a parent scope."""

    def __init__(self, parent: Any, bindings: dict[str, Any]) -> None:
        self.parent = parent
        self.bindings = bindings

    def lookup(self, name: str) -> Any:
        if name in self.bindings:
            return self.bindings[name]
        return self.parent.lookup(name)

    def __getattr__(self, name: str) -> Any:
        # Delegate optional hooks (read_file, ...) to the parent scope.
        if name in ("parent", "bindings"):
            raise AttributeError(name)
        return getattr(self.parent, name)


# --- the expression tree ----------------------------------------------------------


class Source:
    """The bytes an expression was compiled from (shared by every node of a file)."""

    __slots__ = ("data", "filename", "long")

    def __init__(self, data: bytes, filename: str, long: tuple[str, dict[str, str]] | None = None) -> None:
        self.data = data
        self.filename = filename
        # (nonce, {placeholder: original text}): very long string runs that hcl.parse swapped
        # for short placeholders before tree-sitter saw the file (see hcl.shrink_long_runs)
        self.long = long

    def text(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", "replace")

    def restore(self, raw: str) -> str:
        """``raw`` (text of ``data``) with placeholders of long runs put back."""
        if self.long is None or self.long[0] not in raw:
            return raw
        table = self.long[1]
        return re.sub(rf"__tg_long_{self.long[0]}_\d+__", lambda m: table.get(m.group(0), m.group(0)), raw)


# --- bounded evaluation ------------------------------------------------------------------------
# Expressions from the scanned repository must not make the scan do unbounded work: nested
# ``for`` expressions and template ``%{ for }`` loops multiply (three levels over 1024 elements are
# a billion steps), and string functions can be asked for gigabytes (``format("%999999999d", 1)``,
# ``join`` over a list of 1024 references to one large string).  One top-level evaluation (with
# everything it evaluates lazily) gets ``MAX_EVAL_STEPS`` loop iterations, and no string value
# may grow past ``MAX_VALUE_CHARS``; past either, the value is unknown with the reason.

MAX_EVAL_STEPS = 1_000_000
MAX_VALUE_CHARS = 16 * 1024 * 1024


class _Budget:
    __slots__ = ("depth", "steps")

    def __init__(self) -> None:
        self.depth = 0
        self.steps = 0


_BUDGET = _Budget()


def spend(steps: int = 1) -> None:
    """Count loop iterations of the current evaluation; too many is an ``EvalError``."""
    _BUDGET.steps += steps
    if _BUDGET.steps > MAX_EVAL_STEPS:
        raise EvalError(f"evaluation takes more than {MAX_EVAL_STEPS:,} steps (nested for expressions?); not evaluated")


def check_chars(size: int, what: str = "value") -> None:
    """Refuse to build a string of ``size`` characters past ``MAX_VALUE_CHARS``."""
    if size > MAX_VALUE_CHARS:
        raise EvalError(f"{what} would be {size:,} characters, more than {MAX_VALUE_CHARS:,}; not evaluated")


_SPAN_BITS = 40  # offsets below 1 TiB (files are capped far lower)
_SPAN_MASK = (1 << _SPAN_BITS) - 1


class Expr:
    # start and end offsets packed in one int: a big file compiles to millions of nodes
    __slots__ = ("src", "_span", "line")

    # Subclasses set these three slots themselves and take them as positional arguments (the
    # compiler builds ~10,000 nodes for a big module; a keyword dict per node cost more than the rest).
    def __init__(self, src: Source | None = None, start: int = 0, end: int = 0, line: int = 0) -> None:
        self.src = src
        self._span = (start << _SPAN_BITS) | end
        self.line = line

    @property
    def start(self) -> int:
        return self._span >> _SPAN_BITS

    @start.setter
    def start(self, value: int) -> None:
        self._span = (value << _SPAN_BITS) | self.end

    @property
    def end(self) -> int:
        return self._span & _SPAN_MASK

    @end.setter
    def end(self, value: int) -> None:
        self._span = (self.start << _SPAN_BITS) | value

    def eval(self, scope: Any) -> Any:
        """The value of the expression; never raises."""
        budget = _BUDGET
        if budget.depth == 0:
            budget.steps = 0
        budget.depth += 1
        try:
            return self._ev(scope)
        except EvalError as exc:
            return Unknown(str(exc), error=True)
        except RecursionError:
            return Unknown("expression nested too deeply to evaluate", error=True)
        except MemoryError:
            return Unknown("expression needs too much memory to evaluate", error=True)
        except Exception as exc:  # noqa: BLE001 - a scan must never crash on odd input
            return Unknown(f"cannot evaluate `{self.source_text()[:80]}`: {exc}", error=True)
        finally:
            budget.depth -= 1

    def references(self) -> list[Reference]:
        """Static traversals in this expression, e.g. ``("var", "tags")``."""
        out: list[Reference] = []
        self._refs(out, frozenset())
        return out

    def source_text(self) -> str:
        if self.src is None:
            return ""
        return self.src.text(self.start, self.end)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} line {self.line}: {self.source_text()[:60]!r}>"

    # subclasses implement these
    def _ev(self, scope: Any) -> Any:
        raise NotImplementedError

    def _refs(self, out: list[Reference], bound: frozenset) -> None:
        for child in self._children():
            child._refs(out, bound)

    def _children(self) -> Iterable[Expr]:
        return ()


class Literal(Expr):
    __slots__ = ("value",)

    def __init__(self, value: Any,
                 src: Source | None = None, start: int = 0, end: int = 0, line: int = 0) -> None:
        self.src, self._span, self.line = src, (start << _SPAN_BITS) | end, line  # Expr.__init__, inlined
        self.value = value

    def eval(self, scope: Any) -> Any:
        # Expr.eval without its budget and handlers: reading a value counts no step and cannot raise, and a
        # top-level eval resets the step count anyway (a third of the module's evaluations are literals)
        return self.value

    def _ev(self, scope: Any) -> Any:
        return self.value


class Invalid(Expr):
    """Stands for source that did not parse; evaluates to an error Unknown."""

    __slots__ = ("message",)

    def __init__(self, message: str,
                 src: Source | None = None, start: int = 0, end: int = 0, line: int = 0) -> None:
        self.src, self._span, self.line = src, (start << _SPAN_BITS) | end, line  # Expr.__init__, inlined
        self.message = message

    def _ev(self, scope: Any) -> Any:
        raise EvalError(self.message)


# --- templates --------------------------------------------------------------------


class Template(Expr):
    """A quoted or heredoc template: a list of parts (str, Expr, directives)."""

    __slots__ = ("parts", "wrap")

    def __init__(self, parts: list,
                 src: Source | None = None, start: int = 0, end: int = 0, line: int = 0) -> None:
        self.src, self._span, self.line = src, (start << _SPAN_BITS) | end, line  # Expr.__init__, inlined
        self.parts = parts
        # "${x}" alone yields x's value unconverted, as Terraform does.
        self.wrap = len(parts) == 1 and isinstance(parts[0], Expr) and not isinstance(parts[0], _Directive)

    def _ev(self, scope: Any) -> Any:
        if self.wrap:
            return self.parts[0]._ev(scope)
        return render_parts(self.parts, scope)

    def _children(self) -> Iterable[Expr]:
        return [p for p in self.parts if isinstance(p, Expr)]


def render_parts(parts: list, scope: Any) -> Any:
    out: list[str] = []
    size = 0
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            size += len(part)
            continue
        value = part._ev(scope) if not isinstance(part, _Directive) else part.render(scope)
        if isinstance(value, Unknown):
            return value
        if isinstance(part, _Directive):
            out.append(value)
        else:
            out.append(_interp_string(value))
        size += len(out[-1])
        check_chars(size, "template")
    return "".join(out)


def _interp_string(value: Any) -> str:
    if value is None:
        raise EvalError("template interpolation of a null value")
    if isinstance(value, (Mapping, list)):
        raise EvalError(f"cannot interpolate a {type_name(value)} value into a string")
    return to_string(value)


class _Directive(Expr):
    __slots__ = ()

    def render(self, scope: Any) -> Any:
        raise NotImplementedError


class IfDirective(_Directive):
    __slots__ = ("cond", "then", "otherwise")

    def __init__(self, cond: Expr, then: list, otherwise: list,
                 src: Source | None = None, start: int = 0, end: int = 0, line: int = 0) -> None:
        self.src, self._span, self.line = src, (start << _SPAN_BITS) | end, line  # Expr.__init__, inlined
        self.cond, self.then, self.otherwise = cond, then, otherwise

    def render(self, scope: Any) -> Any:
        cond = self.cond._ev(scope)
        if isinstance(cond, Unknown):
            return cond
        return render_parts(self.then if to_bool(cond) else self.otherwise, scope)

    def _children(self) -> Iterable[Expr]:
        return [self.cond] + [p for p in self.then + self.otherwise if isinstance(p, Expr)]


class ForDirective(_Directive):
    __slots__ = ("key_name", "value_name", "coll", "body")

    def __init__(self, key_name: str | None, value_name: str, coll: Expr, body: list,
                 src: Source | None = None, start: int = 0, end: int = 0, line: int = 0) -> None:
        self.src, self._span, self.line = src, (start << _SPAN_BITS) | end, line  # Expr.__init__, inlined
        self.key_name, self.value_name, self.coll, self.body = key_name, value_name, coll, body

    def render(self, scope: Any) -> Any:
        coll = self.coll._ev(scope)
        pairs = iterate(coll)
        if isinstance(pairs, Unknown):
            return pairs
        out: list[str] = []
        size = 0
        for key, value in pairs:
            spend()
            piece = render_parts(self.body, ChildScope(scope, _bind(self.key_name, key, self.value_name, value)))
            if isinstance(piece, Unknown):
                return piece
            size += len(piece)
            check_chars(size, "template")
            out.append(piece)
        return "".join(out)

    def _refs(self, out: list[Reference], bound: frozenset) -> None:
        self.coll._refs(out, bound)
        inner = bound | {n for n in (self.key_name, self.value_name) if n}
        for part in self.body:
            if isinstance(part, Expr):
                part._refs(out, inner)


def _bind(key_name: str | None, key: Any, value_name: str, value: Any) -> dict[str, Any]:
    if key_name:
        return {key_name: key, value_name: value}
    return {value_name: value}


def iterate(coll: Any) -> Any:
    """(key, value) pairs of a collection in Terraform order, or an Unknown."""
    if isinstance(coll, Unknown):
        return coll
    if isinstance(coll, PartialMap) and coll.open:
        return Unknown("iterates over a map that may hold unknown keys: " + "; ".join(coll.open_reasons))
    if isinstance(coll, list):
        return list(enumerate(coll))
    if isinstance(coll, Mapping):
        return [(k, coll[k]) for k in sorted(coll)]
    if coll is None:
        raise EvalError("cannot iterate over a null value")
    raise EvalError(f"cannot iterate over a {type_name(coll)} value")


# --- collections ----------------------------------------------------------------


class TupleExpr(Expr):
    __slots__ = ("items",)

    def __init__(self, items: list[Expr],
                 src: Source | None = None, start: int = 0, end: int = 0, line: int = 0) -> None:
        self.src, self._span, self.line = src, (start << _SPAN_BITS) | end, line  # Expr.__init__, inlined
        self.items = items

    def _ev(self, scope: Any) -> Any:
        return [item._ev(scope) for item in self.items]

    def _children(self) -> Iterable[Expr]:
        return self.items


class ObjectExpr(Expr):
    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[Expr, Expr]],
                 src: Source | None = None, start: int = 0, end: int = 0, line: int = 0) -> None:
        self.src, self._span, self.line = src, (start << _SPAN_BITS) | end, line  # Expr.__init__, inlined
        self.pairs = pairs

    def _ev(self, scope: Any) -> Any:
        out: dict[str, Any] = {}
        open_reasons: list[str] = []
        for key_expr, value_expr in self.pairs:
            key = key_expr._ev(scope)
            if key.__class__ is str:  # the common case, first (to_string would return it as it is)
                out[key] = value_expr._ev(scope)
                continue
            if isinstance(key, Unknown):
                open_reasons.append(f"key `{key_expr.source_text()}` is unknown" + _because(key))
                continue
            if key is None:
                raise EvalError("object key is null")
            out[to_string(key, "object key")] = value_expr._ev(scope)
        if open_reasons:
            return PartialMap(out, open=True, open_reasons=open_reasons)
        return out

    def _children(self) -> Iterable[Expr]:
        return [e for pair in self.pairs for e in pair]


def _because(value: Unknown) -> str:
    return f" ({value.reason})" if value.reason else ""


# --- traversals -----------------------------------------------------------------


class GetAttr:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def apply(self, value: Any, scope: Any) -> Any:
        return get_attr(value, self.name)


class GetIndex:
    __slots__ = ("key",)

    def __init__(self, key: Expr) -> None:
        self.key = key

    def apply(self, value: Any, scope: Any) -> Any:
        return get_index(value, self.key._ev(scope))


class Splat:
    """``[*]`` / ``.*``: applies the following steps to every element."""

    __slots__ = ("steps",)

    def __init__(self, steps: list) -> None:
        self.steps = steps

    def apply(self, value: Any, scope: Any) -> Any:
        if isinstance(value, Unknown):
            return value
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        return [apply_steps(item, self.steps, scope) for item in items]


def apply_steps(value: Any, steps: list, scope: Any) -> Any:
    for step in steps:
        if isinstance(value, Unknown):
            return value
        value = step.apply(value, scope)
    return value


def get_attr(value: Any, name: str) -> Any:
    if isinstance(value, Unknown):
        return value
    if value.__class__ is dict or isinstance(value, Mapping):  # exact dict first: skips the ABC check
        return _map_get(value, name, "attribute")
    if value is None:
        raise EvalError(f'attempt to get attribute "{name}" from a null value')
    if isinstance(value, list):
        raise EvalError(f'cannot get attribute "{name}" from a list (use [*] or an index)')
    raise EvalError(f'cannot get attribute "{name}" from a {type_name(value)} value')


def _map_get(value: Mapping, key: str, what: str) -> Any:
    try:
        return value[key]
    except KeyError:
        if isinstance(value, PartialMap) and value.open:
            return Unknown(f'key "{key}" may come from ' + "; ".join(value.open_reasons))
        raise EvalError(f'object has no {what} "{key}"') from None


def get_index(value: Any, key: Any) -> Any:
    if isinstance(value, Unknown):
        return value
    if isinstance(key, Unknown):
        return key
    if value is None:
        raise EvalError("attempt to index a null value")
    if key is None:
        raise EvalError("index is null")
    if value.__class__ is dict or isinstance(value, Mapping):  # exact dict first: skips the ABC check
        return _map_get(value, to_string(key, "key"), "element")
    if isinstance(value, list):
        return value[_list_index(key, len(value))]
    raise EvalError(f"cannot index a {type_name(value)} value")


def _list_index(key: Any, length: int) -> int:
    number = to_number(key)
    if not isinstance(number, int):
        raise EvalError(f"index {number} is not a whole number")
    if number < 0 or number >= length:
        raise EvalError(f"index {number} out of range for list of length {length}")
    return number


class Traversal(Expr):
    """``root.a[0].b``: root is a scope name (str) or a sub-expression."""

    __slots__ = ("root", "steps")

    def __init__(self, root: Any, steps: list,
                 src: Source | None = None, start: int = 0, end: int = 0, line: int = 0) -> None:
        self.src, self._span, self.line = src, (start << _SPAN_BITS) | end, line  # Expr.__init__, inlined
        self.root = root
        self.steps = steps

    def _ev(self, scope: Any) -> Any:
        root = self.root
        value = lookup(scope, root) if isinstance(root, str) else root._ev(scope)
        for step in self.steps:  # apply_steps, with ``.name`` of a plain dict inlined (most steps)
            if value.__class__ is dict and step.__class__ is GetAttr:
                try:
                    value = value[step.name]
                except KeyError:
                    raise EvalError(f'object has no attribute "{step.name}"') from None
                continue
            if isinstance(value, Unknown):
                return value
            value = step.apply(value, scope)
        return value

    def _refs(self, out: list[Reference], bound: frozenset) -> None:
        if isinstance(self.root, str):
            if self.root not in bound:
                out.append(self._static_path())
        else:
            self.root._refs(out, bound)
        _step_refs(self.steps, out, bound)

    def _static_path(self) -> Reference:
        path = [self.root]
        for step in self.steps:
            if isinstance(step, GetAttr):
                path.append(step.name)
            elif isinstance(step, GetIndex) and isinstance(step.key, Literal) and isinstance(step.key.value, str):
                path.append(step.key.value)
            else:
                break
        return tuple(path)


def _step_refs(steps: list, out: list[Reference], bound: frozenset) -> None:
    for step in steps:
        if isinstance(step, GetIndex):
            step.key._refs(out, bound)
        elif isinstance(step, Splat):
            _step_refs(step.steps, out, bound)


def lookup(scope: Any, name: str) -> Any:
    try:
        return scope.lookup(name)
    except KeyError:
        raise EvalError(f'unknown name "{name}"') from None


# --- operators --------------------------------------------------------------------


class Conditional(Expr):
    __slots__ = ("cond", "then", "otherwise")

    def __init__(self, cond: Expr, then: Expr, otherwise: Expr,
                 src: Source | None = None, start: int = 0, end: int = 0, line: int = 0) -> None:
        self.src, self._span, self.line = src, (start << _SPAN_BITS) | end, line  # Expr.__init__, inlined
        self.cond, self.then, self.otherwise = cond, then, otherwise

    def _ev(self, scope: Any) -> Any:
        cond = self.cond._ev(scope)
        if isinstance(cond, Unknown):
            return cond
        if cond is None:
            raise EvalError("condition is null")
        return (self.then if to_bool(cond) else self.otherwise)._ev(scope)

    def _children(self) -> Iterable[Expr]:
        return (self.cond, self.then, self.otherwise)


class UnaryOp(Expr):
    __slots__ = ("op", "operand")

    def __init__(self, op: str, operand: Expr,
                 src: Source | None = None, start: int = 0, end: int = 0, line: int = 0) -> None:
        self.src, self._span, self.line = src, (start << _SPAN_BITS) | end, line  # Expr.__init__, inlined
        self.op, self.operand = op, operand

    def _ev(self, scope: Any) -> Any:
        value = self.operand._ev(scope)
        if isinstance(value, Unknown):
            return value
        if self.op == "!":
            return not to_bool(value)
        return norm_number(-to_number(value))

    def _children(self) -> Iterable[Expr]:
        return (self.operand,)


def _arith(op: str, a: Any, b: Any) -> Any:
    a, b = to_number(a), to_number(b)
    if op == "+":
        return norm_number(a + b)
    if op == "-":
        return norm_number(a - b)
    if op == "*":
        return norm_number(a * b)
    if b == 0:
        raise EvalError("division by zero" if op == "/" else "modulo by zero")
    if op == "/":
        if isinstance(a, int) and isinstance(b, int) and a % b == 0:
            return a // b
        return norm_number(a / b)
    return _modulo(a, b)


def _modulo(a: Any, b: Any) -> Any:
    # Terraform's % truncates toward zero (the result takes the dividend's sign).
    if isinstance(a, int) and isinstance(b, int):
        rem = abs(a) % abs(b)
        return -rem if a < 0 else rem
    return norm_number(math.fmod(a, b))


def _compare(op: str, a: Any, b: Any) -> bool:
    a, b = to_number(a), to_number(b)
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    if op == "<=":
        return a <= b
    return a >= b


class BinaryOp(Expr):
    __slots__ = ("op", "left", "right")

    def __init__(self, op: str, left: Expr, right: Expr,
                 src: Source | None = None, start: int = 0, end: int = 0, line: int = 0) -> None:
        self.src, self._span, self.line = src, (start << _SPAN_BITS) | end, line  # Expr.__init__, inlined
        self.op, self.left, self.right = op, left, right

    def _ev(self, scope: Any) -> Any:
        if self.op in ("&&", "||"):
            return self._logic(scope)
        a = self.left._ev(scope)
        b = self.right._ev(scope)
        if self.op in ("==", "!="):
            return self._equality(a, b)
        for side in (a, b):
            if isinstance(side, Unknown):
                return side
            if side is None:
                raise EvalError(f"null value in `{self.op}` operation")
        if self.op in ("<", ">", "<=", ">="):
            return _compare(self.op, a, b)
        return _arith(self.op, a, b)

    def _equality(self, a: Any, b: Any) -> Any:
        if (a is None or b is None) and not isinstance(a, Unknown) and not isinstance(b, Unknown):
            # A known collection is known to be non-null even when elements are unknown
            # (`var.groups != null` with an apply-time value inside), as in Terraform.
            result = a is None and b is None
            return result if self.op == "==" else not result
        unknown = find_unknown(a) or find_unknown(b)
        if unknown is not None:
            return unknown
        result = equal(a, b)
        return result if self.op == "==" else not result

    def _logic(self, scope: Any) -> Any:
        short = self.op == "||"  # the value that decides the result on its own
        a = self._bool(self.left._ev(scope))
        if a is short:
            return short
        b = self._bool(self.right._ev(scope))
        if b is short:
            return short
        for side in (a, b):
            if isinstance(side, Unknown):
                return side
        return not short

    @staticmethod
    def _bool(value: Any) -> Any:
        if isinstance(value, Unknown):
            return value
        if value is None:
            raise EvalError("null value in a logical operation")
        return to_bool(value)

    def _children(self) -> Iterable[Expr]:
        return (self.left, self.right)


# --- for expressions ----------------------------------------------------------------


class ForExpr(Expr):
    __slots__ = ("key_name", "value_name", "coll", "key_expr", "value_expr", "cond", "grouping")

    def __init__(
        self,
        key_name: str | None,
        value_name: str,
        coll: Expr,
        key_expr: Expr | None,
        value_expr: Expr,
        cond: Expr | None,
        grouping: bool,
        src: Source | None = None,
        start: int = 0,
        end: int = 0,
        line: int = 0,
    ) -> None:
        self.src, self._span, self.line = src, (start << _SPAN_BITS) | end, line  # Expr.__init__, inlined
        self.key_name, self.value_name, self.coll = key_name, value_name, coll
        self.key_expr, self.value_expr, self.cond, self.grouping = key_expr, value_expr, cond, grouping

    def _ev(self, scope: Any) -> Any:
        coll = self.coll._ev(scope)
        if self.key_expr is not None and isinstance(coll, PartialMap) and coll.open:
            return self._object(iterate(dict(coll)), scope, list(coll.open_reasons))
        pairs = iterate(coll)
        if isinstance(pairs, Unknown):
            return pairs
        if self.key_expr is None:
            return self._tuple(pairs, scope)
        return self._object(pairs, scope, [])

    def _child(self, scope: Any, key: Any, value: Any) -> ChildScope:
        return ChildScope(scope, _bind(self.key_name, key, self.value_name, value))

    def _keep(self, inner: Any) -> Any:
        if self.cond is None:
            return True
        keep = self.cond._ev(inner)
        if isinstance(keep, Unknown):
            return keep
        if keep is None:
            raise EvalError("for expression condition is null")
        return to_bool(keep)

    def _tuple(self, pairs: list, scope: Any) -> Any:
        out = []
        for key, value in pairs:
            spend()
            inner = self._child(scope, key, value)
            keep = self._keep(inner)
            if isinstance(keep, Unknown):
                return keep
            if keep:
                out.append(self.value_expr._ev(inner))
        return out

    def _object(self, pairs: list, scope: Any, open_reasons: list[str]) -> Any:
        out: dict[str, Any] = {}
        for key, value in pairs:
            spend()
            inner = self._child(scope, key, value)
            keep = self._keep(inner)
            if isinstance(keep, Unknown):
                open_reasons.append(f"for expression condition is unknown{_because(keep)}")
                continue
            if not keep:
                continue
            new_key = self.key_expr._ev(inner)  # type: ignore[union-attr]
            if isinstance(new_key, Unknown):
                open_reasons.append(f"for expression key is unknown{_because(new_key)}")
                continue
            if new_key is None:
                raise EvalError("for expression produced a null key")
            self._put(out, to_string(new_key, "object key"), self.value_expr._ev(inner))
        if open_reasons:
            return PartialMap(out, open=True, open_reasons=open_reasons)
        return out

    def _put(self, out: dict[str, Any], key: str, value: Any) -> None:
        if self.grouping:
            out.setdefault(key, []).append(value)
        elif key in out:
            raise EvalError(f'duplicate key "{key}" in for expression (use ... to group)')
        else:
            out[key] = value

    def _refs(self, out: list[Reference], bound: frozenset) -> None:
        self.coll._refs(out, bound)
        inner = bound | {n for n in (self.key_name, self.value_name) if n}
        for expr in (self.key_expr, self.value_expr, self.cond):
            if expr is not None:
                expr._refs(out, inner)


# --- function calls -------------------------------------------------------------------


class FuncCall(Expr):
    """``name(args...)``.  ``fn`` is what ``name`` meant in the function table the compiler was
    given (``hcl.parse`` binds its default table), or None: this module knows no function."""

    __slots__ = ("name", "args", "expand", "fn")

    def __init__(self, name: str, args: list[Expr], expand: bool, fn: Callable[..., Any] | None = None,
                 src: Source | None = None, start: int = 0, end: int = 0, line: int = 0) -> None:
        self.src, self._span, self.line = src, (start << _SPAN_BITS) | end, line  # Expr.__init__, inlined
        self.name, self.args, self.expand, self.fn = name, args, expand, fn

    def _ev(self, scope: Any) -> Any:
        fn = self.fn
        if fn is None:
            return Unknown(f"function {self.name} is not supported")
        if getattr(fn, "special_form", False):
            return fn(scope, self.args)
        args = self._args(scope)
        if isinstance(args, Unknown):
            return args
        return call_function(self.name, fn, scope, args)

    def _args(self, scope: Any) -> Any:
        args = [arg._ev(scope) for arg in self.args]
        if self.expand and args:
            last = args.pop()
            if isinstance(last, Unknown):
                return last
            if isinstance(last, Mapping) or not isinstance(last, list):
                raise EvalError(f"{self.name}(): the argument before ... must be a list")
            args.extend(last)
        return args

    def _children(self) -> Iterable[Expr]:
        return self.args


def call_function(name: str, fn: Callable[..., Any], scope: Any, args: list) -> Any:
    """Call a function-table entry; any failure becomes an EvalError naming the function."""
    try:
        if getattr(fn, "needs_scope", False):
            return fn(scope, *args)
        return fn(*args)
    except EvalError as exc:
        raise EvalError(f"{name}(): {exc}") from None
    except RecursionError:
        raise
    except Exception as exc:  # noqa: BLE001 - any Python error is a function failure
        raise EvalError(f"{name}(): {type(exc).__name__}: {exc}") from None
