"""Generate nosana_nb/core/_sync_deployments.py from its async source, the way httpcore does.

The async resources are written once, in ``_async_deployments.py``; an ordered table of regex
rewrites (``AsyncDeployment`` -> ``Deployment``, ``await x`` -> ``x``, ...) turns them into the
sync twin, and ruff sorts its imports and formats it like every other file.

    .venv/bin/python scripts/unasync.py           rewrite the sync module
    .venv/bin/python scripts/unasync.py --check   exit 1 with a diff when it is out of date

tests/meta/test_unasync_drift.py runs the check with the rest of the suite.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "nosana_nb" / "core" / "_async_deployments.py"
TARGET = REPO / "nosana_nb" / "core" / "_sync_deployments.py"

HEADER = "# generated from _async_deployments.py by scripts/unasync.py — do not edit\n"
SYNC_DOCSTRING = '''"""The sync resources: SyncServices, Deployment, Deployments and Vaults.

Generated from ``_async_deployments.py`` (the single source of both twins): edit that module,
then run ``.venv/bin/python scripts/unasync.py``.
"""'''

# Async name -> sync name, matched as whole words. Longer names never hide shorter ones
# because of the word boundaries (AsyncVaults is not AsyncVault + "s").
RENAMES = {
    "AsyncNosanaClient": "NosanaClient",
    "AsyncDeployments": "Deployments",
    "AsyncDeployment": "Deployment",
    "AsyncVaults": "Vaults",
    "AsyncVault": "Vault",
    "AsyncServices": "SyncServices",
    "AsyncPager": "SyncPager",
    "AsyncIterator": "Iterator",
    "AsyncIterable": "Iterable",
    "AsyncHTTP": "SyncHTTP",
    "AsyncSolanaRPC": "SolanaRPC",
    "AsyncMarkets": "Markets",
    "AsyncJobs": "Jobs",
    "astream_sse": "stream_sse",
    "aiter_messages": "iter_messages",
    "asend": "send",
    "aclose": "close",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "StopAsyncIteration": "StopIteration",
}

# (pattern, replacement) applied in order, after the bracket-aware rewrites below.
RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^import asyncio\n", re.MULTILINE), ""),
    (re.compile(r"\basyncio\.sleep\b"), "time.sleep"),
    # flake8-async's "call timeout" warnings mean nothing in sync code
    (re.compile(r"[ \t]*# noqa: ASYNC\d+(?: \([^)\n]*\))?$", re.MULTILINE), ""),
    (re.compile(r"\bAwaitable, "), ""),
    (re.compile(r"\basync (def|with|for)\b"), r"\1"),
    (re.compile(r"\bawait "), ""),
    *((re.compile(rf"\b{re.escape(old)}\b"), new) for old, new in RENAMES.items()),
]

# Identifiers that must not survive into the sync module; a hit means the table lacks a rule.
ASYNC_ONLY_NAMES = frozenset({*RENAMES, "Awaitable", "asyncio"})


class UnasyncError(Exception):
    """The async source cannot be turned into a valid sync module."""


def _closing_bracket(text: str, start: int) -> int:
    """Index of the bracket that closes the one opening at ``text[start]``.

    Brackets inside string literals are counted too; a mismatch then surfaces as an error here
    or as a syntax error from ruff, never as silently wrong output.
    """
    pairs = {"(": ")", "[": "]"}
    stack = [pairs[text[start]]]
    for index in range(start + 1, len(text)):
        char = text[index]
        if char in pairs:
            stack.append(pairs[char])
        elif char in ")]":
            if char != stack.pop():
                break
            if not stack:
                return index
    raise UnasyncError(f"unbalanced bracket opened at offset {start}: {text[start : start + 60]!r}")


def _rewrite_bracketed(text: str, opener: re.Pattern[str], fix: Callable[[str], str]) -> str:
    """Replace each ``opener ... closing bracket`` span with ``fix(inner text)``."""
    out: list[str] = []
    position = 0
    while match := opener.search(text, position):
        close = _closing_bracket(text, match.end() - 1)
        out += [text[position : match.start()], fix(text[match.end() : close])]
        position = close + 1
    return "".join(out) + text[position:]


def _invalid(code: str, err: SyntaxError) -> UnasyncError:
    return UnasyncError(f"not valid Python ({err.msg}, line {err.lineno}): {code[:80]!r}")


def _bare_await(inner: str) -> str:
    """``(await x.f(...))`` -> ``x.f(...)``: without the await the parentheses are noise.

    Only a call, attribute, name or subscript may lose them, so the meaning never changes.
    """
    operand = inner.strip()
    if not operand.startswith("await "):
        raise UnasyncError(f"expected an await inside parentheses, got {inner!r}")
    operand = operand.removeprefix("await ").strip()
    try:
        node = ast.parse(operand, mode="eval").body
    except SyntaxError as err:
        raise _invalid(operand, err) from err
    if not isinstance(node, ast.Call | ast.Attribute | ast.Name | ast.Subscript):
        return "(" + operand + ")"
    return operand


def _replace_docstring(source: str) -> str:
    opening = re.match(r'"""(?:[^"]|"(?!""))*"""\n', source)
    if opening is None:
        raise UnasyncError("the async module must open with a docstring")
    return SYNC_DOCSTRING + "\n" + source[opening.end() :]


def rewrite(code: str) -> str:
    """Apply the rewrite table to async code (no docstring swap, import sort or formatting)."""
    # a grouping parenthesis only: one after a name or bracket opens a call's arguments
    code = _rewrite_bracketed(code, re.compile(r"(?<![\w)\]])\((?=\s*await )"), _bare_await)
    code = _rewrite_bracketed(code, re.compile(r"(?<!\.)\bAwaitable\["), lambda inner: inner)
    for pattern, replacement in RULES:
        code = pattern.sub(replacement, code)
    return code


def unasync(source: str) -> str:
    """The sync twin of an async module, before its imports are sorted and it is formatted."""
    return rewrite(_replace_docstring(source))


def check_sync(text: str) -> None:
    """Refuse output that still holds async syntax or an async-only name."""
    try:
        tree = ast.parse(text)
    except SyntaxError as err:
        raise _invalid(text, err) from err
    leftovers: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.AsyncFunctionDef | ast.AsyncFor | ast.AsyncWith | ast.Await):
            leftovers.append(f"line {node.lineno}: {type(node).__name__}")
        elif isinstance(node, ast.comprehension) and node.is_async:
            leftovers.append(f"line {node.target.lineno}: async comprehension")
        name = (
            node.id
            if isinstance(node, ast.Name)
            else node.attr
            if isinstance(node, ast.Attribute)
            else node.name
            if isinstance(node, ast.alias)
            else None
        )
        if name in ASYNC_ONLY_NAMES:
            leftovers.append(f"line {getattr(node, 'lineno', '?')}: {name}")
    if leftovers:
        raise UnasyncError("async code left in the sync twin:\n  " + "\n  ".join(leftovers))


def _ruff(args: Sequence[str], text: str) -> str:
    command = [sys.executable, "-m", "ruff", *args, "--stdin-filename", str(TARGET), "-"]
    done = subprocess.run(
        command, input=text, capture_output=True, text=True, cwd=REPO, check=False, timeout=60
    )
    if done.returncode != 0:
        raise UnasyncError(f"{' '.join(command[2:])} failed:\n{done.stderr.strip()}")
    return done.stdout


def generate(source: str) -> str:
    """The full text of the sync module for an async source."""
    text = unasync(source)
    check_sync(text)
    text = _ruff(["check", "--quiet", "--select", "I", "--fix"], text)
    return HEADER + _ruff(["format", "--quiet"], text)


def drift(current: str, expected: str) -> str:
    """A unified diff from the file on disk to what it should be; empty when they agree."""
    name = str(TARGET.relative_to(REPO))
    return "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=f"{name} (on disk)",
            tofile=f"{name} (generated)",
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report drift (exit 1)")
    options = parser.parse_args(argv)
    expected = generate(SOURCE.read_text(encoding="utf-8"))
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if options.check:
        difference = drift(current, expected)
        if difference:
            print(difference, end="")
            print(f"{TARGET.name} is out of date: run .venv/bin/python scripts/unasync.py")
            return 1
        return 0
    if current != expected:
        TARGET.write_text(expected, encoding="utf-8")
        print(f"wrote {TARGET.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
