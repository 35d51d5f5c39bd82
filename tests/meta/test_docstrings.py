"""Every public name has a Google-style docstring (``Args:`` / ``Returns:`` / ``Raises:``).

"Public" is precise: the names in ``__all__`` of ``nosana_nb`` and of its public subpackages
(``PUBLIC_MODULES``: every subpackage without a leading underscore - core, frames, plots,
watch, widgets, export, sandbox, and any added later) that are functions or classes, plus the
public methods and properties of those classes (no leading underscore, defined in a
``nosana_nb`` module, so inherited ipywidgets or pydantic methods do not count). Constants,
type aliases and enum members are not checked.

The rules, each checkable from the signature, the source and the docstring:

- **a docstring**, whose first line is a summary (for a class, written by us: a dataclass's
  generated ``Name(field, ...)`` text does not count); a property needs only this.
- **Args:** lists every parameter except ``self``/``cls`` (``*args``/``**kwargs`` by name;
  ``a, b: ...`` documents both). For a class, the parameters of a hand-written ``__init__``,
  in the class or the ``__init__`` docstring; generated initialisers (dataclasses, pydantic
  models) need none, nor do classes only the toolkit constructs (``MADE_BY_THE_TOOLKIT``:
  handles a client or ``start()`` returns) and exceptions (the toolkit raises them; their
  docstring says when).
- **Returns:** (or **Yields:** for a generator) when the return annotation is neither ``None``
  nor missing; classes and ``__init__`` need none.
- **Raises:** naming every ``nosana_nb`` error (an exported exception class) the body raises
  itself with ``raise Name(...)`` (not re-raises, not errors raised by callees: those are the
  callee's to document); and a Raises section whenever the prose says it "raises" (except in
  an exception's own docstring, which says when it is raised).
  A method that overrides a documented method of a ``nosana_nb`` base class inherits its
  docstring (``inspect.getdoc``).

Names still owed a docstring are listed in ``docstring_debt.txt`` beside this file, one
qualified name a line: the test fails on any other name that breaks a rule, and on a listed
name that now conforms (delete its line), so the list only shrinks.

Run ``python tests/meta/test_docstrings.py`` to print the count and every failure.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _public_packages() -> tuple[str, ...]:
    """``nosana_nb`` and every subpackage without a leading underscore (a new one counts)."""
    import pkgutil

    import nosana_nb

    found = ["nosana_nb"]
    for module in pkgutil.iter_modules(nosana_nb.__path__):
        if module.ispkg and not module.name.startswith("_"):
            found.append(f"nosana_nb.{module.name}")
    return tuple(found)


PUBLIC_MODULES = _public_packages()
DEBT = Path(__file__).with_name("docstring_debt.txt")
SECTION = re.compile(r"^(?P<indent>\s*)(?P<name>[A-Z][A-Za-z ]*):\s*$")
ARG_ENTRY = re.compile(r"^(?P<names>\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?:\([^)]*\))?\s*:")
# built by a client or by sandbox.start(), never by a user: their parameters are internals
MADE_BY_THE_TOOLKIT = frozenset(
    {
        "AsyncDeployment",
        "AsyncDeployments",
        "AsyncJobs",
        "AsyncMarkets",
        "AsyncPager",
        "AsyncVault",
        "AsyncVaults",
        "Deployment",
        "Deployments",
        "Jobs",
        "Markets",
        "SandboxHandle",
        "SyncPager",
        "Vault",
        "Vaults",
    }
)
PROSE_RAISES = re.compile(r"\braises?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """One documented object: a public function, class or method, and where it is public."""

    qualname: str
    obj: Any
    kind: str  # "function", "class", "method", "property"
    owner: type | None = None


def _ours(obj: Any) -> bool:
    return str(getattr(obj, "__module__", "") or "").startswith("nosana_nb")


def error_names() -> set[str]:
    names: set[str] = set()
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, BaseException) and _ours(value):
                names.add(name)
    return names


def _methods(cls: type) -> Iterator[Target]:
    if issubclass(cls, BaseException):
        return
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not _ours(klass):
            continue
        for name, raw in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            if isinstance(raw, property):
                yield Target(f"{cls.__name__}.{name}", raw, "property", cls)
            elif isinstance(raw, staticmethod | classmethod):
                yield Target(f"{cls.__name__}.{name}", raw.__func__, "method", cls)
            elif inspect.isfunction(raw):
                yield Target(f"{cls.__name__}.{name}", raw, "method", cls)


def public_targets() -> list[Target]:
    """Every public function, class, method and property, once each (by identity)."""
    found: dict[int, Target] = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if not _ours(value):
                continue
            if inspect.isclass(value):
                import enum

                found.setdefault(id(value), Target(f"{module_name}.{name}", value, "class"))
                if issubclass(value, enum.Enum):
                    continue
                for method in _methods(value):
                    key = id(method.obj)
                    if key not in found:
                        found[key] = Target(f"{module_name}.{method.qualname}", *_rest(method))
            elif inspect.isfunction(value):
                found.setdefault(id(value), Target(f"{module_name}.{name}", value, "function"))
    return list(found.values())


def _rest(target: Target) -> tuple[Any, str, type | None]:
    return target.obj, target.kind, target.owner


def sections(doc: str) -> dict[str, list[str]]:
    """Google sections of a docstring: name -> its body lines (dedented one level)."""
    found: dict[str, list[str]] = {}
    current: str | None = None
    indent = 0
    for line in doc.splitlines():
        match = SECTION.match(line)
        if match and match["name"] in {"Args", "Arguments", "Returns", "Yields", "Raises"}:
            current, indent = match["name"], len(match["indent"])
            found[current] = []
            continue
        if current is not None:
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                current = None  # dedented: the section ended
                continue
            found[current].append(line.strip())
    return found


def documented_args(lines: list[str]) -> set[str]:
    names: set[str] = set()
    for line in lines:
        match = ARG_ENTRY.match(line)
        if match:
            names.update(part.strip().lstrip("*") for part in match["names"].split(","))
    return names


def _parameters(fn: Callable[..., Any]) -> list[str]:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    names = list(signature.parameters)
    if names and names[0] in {"self", "cls"}:
        names = names[1:]
    return names


def _returns_value(fn: Callable[..., Any]) -> bool:
    annotation = inspect.signature(fn).return_annotation
    return annotation not in (inspect.Signature.empty, None, "None", type(None))


def _is_generator(fn: Callable[..., Any]) -> bool:
    return inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)


def raised_errors(fn: Callable[..., Any], errors: set[str]) -> set[str]:
    """The nosana_nb errors ``fn``'s own body raises by name (nested functions excluded)."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return set()
    tree = ast.parse(source)
    root = tree.body[0]
    found: set[str] = set()
    stack: list[ast.AST] = list(ast.iter_child_nodes(root))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = exc.attr if isinstance(exc, ast.Attribute) else getattr(exc, "id", None)
            if name in errors:
                found.add(name)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _class_doc(cls: type) -> str:
    own = cls.__dict__.get("__doc__") or ""
    if own.startswith(f"{cls.__name__}("):  # a dataclass's generated signature text
        return ""
    return inspect.cleandoc(own)


def _hand_written_init(cls: type) -> Callable[..., Any] | None:
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if not _ours(klass) or getattr(klass, "__dataclass_fields__", None) is not None:
            return None
        if inspect.isfunction(init) and init.__qualname__.endswith(f"{klass.__name__}.__init__"):
            return init if _ours(init) else None
        return None
    return None


def problems_of(target: Target, errors: set[str]) -> list[str]:
    """What ``target``'s docstring lacks, as short phrases (empty: it conforms)."""
    is_exception = target.kind == "class" and issubclass(target.obj, BaseException)
    if target.kind == "class":
        doc = _class_doc(target.obj)
        internal = is_exception or target.obj.__name__ in MADE_BY_THE_TOOLKIT
        init = None if internal else _hand_written_init(target.obj)
        if init is not None:
            doc = doc + "\n\n" + inspect.cleandoc(init.__doc__ or "")
        fn = init
    elif target.kind == "property":
        return [] if inspect.getdoc(target.obj) else ["no docstring"]
    else:
        fn = target.obj
        doc = inspect.getdoc(fn) or ""
        if target.kind == "method" and not (fn.__doc__ or "").strip():
            doc = _inherited_doc(target) or ""
    if not doc.strip():
        return ["no docstring"]
    found = sections(doc)
    missing: list[str] = []
    if fn is not None:
        wanted = _parameters(fn)
        if wanted:
            given = documented_args(found.get("Args", found.get("Arguments", [])))
            absent = [name for name in wanted if name not in given]
            if absent:
                missing.append("Args: " + ", ".join(absent))
        if target.kind != "class" and _returns_value(fn):
            if _is_generator(fn):
                if "Yields" not in found and "Returns" not in found:
                    missing.append("Yields:")
            elif "Returns" not in found:
                missing.append("Returns:")
        raised = raised_errors(fn, errors)
        raises = " ".join(found.get("Raises", []))
        undocumented = sorted(name for name in raised if not re.search(rf"\b{name}\b", raises))
        if undocumented:
            missing.append("Raises: " + ", ".join(undocumented))
    if not is_exception and "Raises" not in found and PROSE_RAISES.search(_prose(doc)):
        missing.append("Raises: (the text says it raises)")
    return missing


def _prose(doc: str) -> str:
    """The docstring without its Args/Returns/Yields sections (where 'raises' may describe an
    argument's effect elsewhere)."""
    kept: list[str] = []
    skipping = False
    indent = 0
    for line in doc.splitlines():
        match = SECTION.match(line)
        if match:
            skipping = match["name"] in {"Args", "Arguments", "Returns", "Yields", "Raises"}
            indent = len(match["indent"])
            continue
        if skipping and line.strip() and len(line) - len(line.lstrip()) <= indent:
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


def _inherited_doc(target: Target) -> str | None:
    name = target.qualname.rsplit(".", 1)[-1]
    owner = target.owner
    if owner is None:
        return None
    for klass in owner.__mro__[1:]:
        base = klass.__dict__.get(name)
        if base is not None and _ours(klass) and (getattr(base, "__doc__", None) or "").strip():
            return inspect.cleandoc(base.__doc__)
    return None


def report() -> tuple[int, dict[str, str]]:
    """How many public names were checked, and each failing name with what it lacks."""
    errors = error_names()
    targets = public_targets()
    failures: dict[str, str] = {}
    for target in sorted(targets, key=lambda t: t.qualname):
        missing = problems_of(target, errors)
        if missing:
            failures[target.qualname] = f"({target.kind}): " + "; ".join(missing)
    return len(targets), failures


def debt() -> set[str]:
    lines = DEBT.read_text(encoding="utf-8").splitlines() if DEBT.exists() else []
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def test_every_public_name_has_a_conforming_docstring() -> None:
    checked, failures = report()
    assert checked > 300  # the walk found the public surface (a broken walk checks nothing)
    owed = debt()
    new = [f"{name} {why}" for name, why in failures.items() if name not in owed]
    assert new == [], f"{len(new)} of {checked} public names:\n" + "\n".join(new)
    paid = sorted(owed - set(failures))
    assert paid == [], f"now documented, delete from {DEBT.name}: " + ", ".join(paid)


def test_the_public_packages_are_found() -> None:
    expected = {"core", "frames", "plots", "watch", "widgets", "export", "sandbox"}
    assert {f"nosana_nb.{name}" for name in expected} | {"nosana_nb"} <= set(PUBLIC_MODULES)
    for name in PUBLIC_MODULES:  # each declares its public surface
        assert isinstance(importlib.import_module(name).__all__, list | tuple), name


def test_every_exempt_constructor_is_a_public_class() -> None:
    """A stale name in MADE_BY_THE_TOOLKIT would exempt nothing and hide nothing: keep it true."""
    classes = {t.obj.__name__ for t in public_targets() if t.kind == "class"}
    assert sorted(MADE_BY_THE_TOOLKIT - classes) == []


def test_the_rules_catch_what_they_claim() -> None:
    """The checker itself: each rule fails a docstring that breaks it."""
    errors = {"ValidationError"}

    def no_doc(x: int) -> int:
        return x

    def no_args(x: int) -> None:
        """Summary."""

    def no_returns(x: int) -> int:
        """Summary.

        Args:
            x: a number.
        """
        return x

    def no_raises(x: int) -> None:
        """Summary.

        Args:
            x: a number.
        """
        if x < 0:
            raise ValidationError("x")  # noqa: F821 - parsed, never run

    def good(x: int, *, a: int = 0, b: int = 0) -> int:
        """Summary.

        Args:
            x (int): a number.
            a, b: two more.

        Returns:
            the number.

        Raises:
            ValidationError: when x < 0.
        """
        if x < 0:
            raise ValidationError("x")  # noqa: F821 - parsed, never run
        return x

    def check(fn: Callable[..., Any]) -> list[str]:
        return problems_of(Target(fn.__name__, fn, "function"), errors)

    assert check(no_doc) == ["no docstring"]
    assert check(no_args) == ["Args: x"]
    assert check(no_returns) == ["Returns:"]
    assert check(no_raises) == ["Raises: ValidationError"]
    assert check(good) == []

    def says_it_raises() -> None:
        """Summary; raises ValidationError when unhappy."""

    assert check(says_it_raises) == ["Raises: (the text says it raises)"]

    class Shown:
        @property
        def value(self) -> int:
            return 1

    undocumented = Target("Shown.value", vars(Shown)["value"], "property", Shown)
    assert problems_of(undocumented, errors) == ["no docstring"]


if __name__ == "__main__":
    count, failed = report()
    print("\n".join(f"{name} {why}" for name, why in failed.items()))
    print(f"{count} public names checked, {len(failed)} without a conforming docstring")
