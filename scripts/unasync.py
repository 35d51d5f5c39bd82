"""Generate nosana_nb/core/_sync/*.py from their async sources in _async/, the way httpcore does.

The async resources and shells are written once, in ``nosana_nb/core/_async/``; an ordered table
of regex rewrites (``AsyncDeployment`` -> ``Deployment``, ``await x`` -> ``x``, ...) turns each
into its sync twin in ``nosana_nb/core/_sync/``, and the pinned ruff sorts its imports and
formats it like every other file.

    .venv/bin/python scripts/unasync.py           rewrite the sync modules
    .venv/bin/python scripts/unasync.py --check   exit 1 with a diff when one is out of date

The run fails - writing nothing - when a rule of the table never fires on any module (a stale
rule hides a rename that should have happened), when async code or an async-only name survives,
or when the installed ruff is not the version pinned in pyproject.toml (its formatting decides
the generated text). tests/meta/test_unasync_drift.py runs the check with the rest of the suite.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "nosana_nb" / "core"
ASYNC_DIR = CORE / "_async"
SYNC_DIR = CORE / "_sync"
PYPROJECT = REPO / "pyproject.toml"

HEADER = "# generated from _async/{name}.py by scripts/unasync.py — do not edit\n"
SYNC_DOCSTRING = '''"""{summary}

Generated from ``_async/{name}.py`` (the single source of both twins): edit that module, then
run ``.venv/bin/python scripts/unasync.py``.
"""'''

# Every module written once in _async/, with the first line of its generated twin's docstring.
MODULES: dict[str, str] = {
    "http": "The blocking HTTP shell under every sync client (fine inside Jupyter's loop).",
    "solana_rpc": "The blocking Solana JSON-RPC client: the few calls the vault needs.",
    "vaults": "A vault seen from its owner's wallet (blocking calls).",
    "markets": "``client.markets`` of the sync client.",
    "jobs": "``client.jobs`` of the sync client: job definitions on IPFS.",
    "credits": "``client.credits`` of the sync client: an API-key user's credits.",
    "deployments": "The sync resources: SyncServices, Deployment, Deployments and Vaults.",
    "bulk": "Bulk actions of the sync client (its calls run on a bounded pool of threads).",
    "endpoints": "``client.endpoints`` of the sync client (probes run on a pool of threads).",
}

# Async name -> sync name, matched as whole words. Longer names never hide shorter ones
# because of the word boundaries (AsyncVaults is not AsyncVault + "s").
RENAMES = {
    "AsyncEndpoints": "Endpoints",
    "atunnel_mounts": "tunnel_mounts",
    "aiter_raw": "iter_raw",
    "AsyncBulkRun": "BulkRun",
    "arun_bulk": "run_bulk",
    "agather_bounded": "gather_bounded",
    "AsyncDeploymentJob": "DeploymentJob",
    "AsyncDeployments": "Deployments",
    "AsyncDeployment": "Deployment",
    "AsyncVaults": "Vaults",
    "AsyncVault": "Vault",
    "AsyncServices": "SyncServices",
    "AsyncPager": "SyncPager",
    "AsyncHTTP": "SyncHTTP",
    "AsyncSolanaRPC": "SolanaRPC",
    "AsyncMarkets": "Markets",
    "AsyncCredits": "Credits",
    "AsyncJobs": "Jobs",
    "AsyncIterator": "Iterator",
    "AsyncGenerator": "Generator",
    "AsyncExitStack": "ExitStack",
    "AsyncClient": "Client",
    "AsyncBaseTransport": "BaseTransport",
    "asynccontextmanager": "contextmanager",
    "aconnect_sse": "connect_sse",
    "aiter_bytes": "iter_bytes",
    "awithin_deadline": "within_deadline",
    "own_async_transport": "own_transport",
    "aiter_messages": "iter_messages",
    "enter_async_context": "enter_context",
    "push_async_exit": "push",
    "push_async_callback": "callback",
    "asend": "send",
    "acall": "call",
    "aclose": "close",
    "asleep": "sleep",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
}


@dataclass(frozen=True)
class Rule:
    """One rewrite: a regex and its replacement, or a bracket-aware fix of what it opens."""

    name: str
    pattern: re.Pattern[str]
    replacement: str | None = None
    fix: Callable[[str], str] | None = None


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


def _rewrite_bracketed(
    text: str, opener: re.Pattern[str], fix: Callable[[str], str]
) -> tuple[str, int]:
    """Replace each ``opener ... closing bracket`` span with ``fix(inner text)``; (text, hits)."""
    out: list[str] = []
    position = 0
    hits = 0
    while match := opener.search(text, position):
        close = _closing_bracket(text, match.end() - 1)
        out += [text[position : match.start()], fix(text[match.end() : close])]
        position = close + 1
        hits += 1
    return "".join(out) + text[position:], hits


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


RULES: list[Rule] = [
    # a grouping parenthesis only: one after a name or bracket opens a call's arguments
    Rule("(await x)", re.compile(r"(?<![\w)\]])\((?=\s*await )"), fix=_bare_await),
    Rule("Awaitable[x]", re.compile(r"(?<!\.)\bAwaitable\["), fix=lambda inner: inner),
    Rule("import asyncio", re.compile(r"^import asyncio\n", re.MULTILINE), ""),
    Rule("asyncio.sleep", re.compile(r"\basyncio\.sleep\b"), "time.sleep"),
    # flake8-async's "call timeout" warnings mean nothing in sync code
    Rule("noqa: ASYNC", re.compile(r"[ \t]*# noqa: ASYNC\d+(?: \([^)\n]*\))?$", re.MULTILINE), ""),
    Rule("Awaitable,", re.compile(r"\bAwaitable, "), ""),
    Rule("async def/with/for", re.compile(r"\basync (def|with|for)\b"), r"\1"),
    Rule("await", re.compile(r"\bawait "), ""),
    # the twins import each other's twins: _async.http.AsyncHTTP -> _sync.http.SyncHTTP
    Rule("_async imports", re.compile(r"\bnosana_nb\.core\._async\."), "nosana_nb.core._sync."),
    *(Rule(old, re.compile(rf"\b{re.escape(old)}\b"), new) for old, new in RENAMES.items()),
]

# Identifiers that must not survive into a sync module; a hit means the table lacks a rule.
ASYNC_ONLY_NAMES = frozenset({*RENAMES, "Awaitable", "asyncio"})


def rewrite(code: str, hits: Counter[str] | None = None) -> str:
    """Apply the rule table to async code, counting each rule's hits into ``hits``."""
    counts = hits if hits is not None else Counter()
    for rule in RULES:
        if rule.fix is not None:
            code, found = _rewrite_bracketed(code, rule.pattern, rule.fix)
        else:
            code, found = rule.pattern.subn(rule.replacement or "", code)
        counts[rule.name] += found
    return code


def unused_rules(hits: Counter[str]) -> list[str]:
    """Rules that fired on no module: stale, or hiding a rename that should have happened."""
    return [rule.name for rule in RULES if hits[rule.name] == 0]


def _replace_docstring(source: str, name: str) -> str:
    opening = re.match(r'"""(?:[^"]|"(?!""))*"""\n', source)
    if opening is None:
        raise UnasyncError(f"_async/{name}.py must open with a docstring")
    summary = MODULES.get(name, f"The sync twin of _async/{name}.py.")
    return SYNC_DOCSTRING.format(summary=summary, name=name) + "\n" + source[opening.end() :]


def unasync(source: str, name: str = "module", hits: Counter[str] | None = None) -> str:
    """The sync twin of an async module, before its imports are sorted and it is formatted."""
    return rewrite(_replace_docstring(source, name), hits)


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


# -- the pinned formatter ---------------------------------------------------------------------


def pinned_ruff_version(pyproject: str | None = None) -> str:
    """The ruff version pinned (``ruff==X``) among the dev dependencies of pyproject.toml."""
    text = PYPROJECT.read_text(encoding="utf-8") if pyproject is None else pyproject
    found = re.findall(r'"ruff==([0-9][0-9A-Za-z.]*)"', text)
    if len(found) != 1:
        raise UnasyncError('pyproject.toml must pin ruff exactly once, as "ruff==<version>"')
    return str(found[0])


def installed_ruff_version() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        raise UnasyncError(f"ruff is not installed: {done.stderr.strip()} (run make install)")
    return done.stdout.split()[-1]


def check_ruff_pin() -> None:
    pinned, installed = pinned_ruff_version(), installed_ruff_version()
    if pinned != installed:
        raise UnasyncError(
            f"ruff {installed} is installed but the generator is pinned to ruff {pinned} "
            "(pyproject.toml); its formatting is part of the output: run make install"
        )


def _ruff(args: Sequence[str], text: str, target: Path) -> str:
    command = [sys.executable, "-m", "ruff", *args, "--stdin-filename", str(target), "-"]
    done = subprocess.run(
        command, input=text, capture_output=True, text=True, cwd=REPO, check=False, timeout=60
    )
    if done.returncode != 0:
        raise UnasyncError(f"{' '.join(command[2:])} failed:\n{done.stderr.strip()}")
    return done.stdout


def source_path(name: str) -> Path:
    return ASYNC_DIR / f"{name}.py"


def target_path(name: str) -> Path:
    return SYNC_DIR / f"{name}.py"


def generate(source: str, name: str, hits: Counter[str] | None = None) -> str:
    """The full text of the sync module ``_sync/<name>.py`` for an async source."""
    text = unasync(source, name, hits)
    check_sync(text)
    target = target_path(name)
    text = _ruff(["check", "--quiet", "--select", "I", "--fix"], text, target)
    return HEADER.format(name=name) + _ruff(["format", "--quiet"], text, target)


def generate_all() -> dict[Path, str]:
    """Every sync module's expected text; fails on a stale rule or a wrong ruff."""
    check_ruff_pin()
    hits: Counter[str] = Counter()
    expected = {
        target_path(name): generate(source_path(name).read_text(encoding="utf-8"), name, hits)
        for name in MODULES
    }
    stale = unused_rules(hits)
    if stale:
        raise UnasyncError(
            "these rewrite rules never fire on any module; remove them from scripts/unasync.py "
            "(or find the rename that did not happen): " + ", ".join(stale)
        )
    return expected


def strays() -> list[Path]:
    """Modules in _sync/ that no async source generates (left over after a rename)."""
    known = {target_path(name) for name in MODULES} | {SYNC_DIR / "__init__.py"}
    return sorted(path for path in SYNC_DIR.glob("*.py") if path not in known)


def drift(current: str, expected: str, target: Path) -> str:
    """A unified diff from the file on disk to what it should be; empty when they agree."""
    name = str(target.relative_to(REPO))
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
    try:
        expected = generate_all()
    except UnasyncError as err:
        print(f"unasync: {err}", file=sys.stderr)
        return 2
    out_of_date = 0
    for target, text in expected.items():
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current == text:
            continue
        out_of_date += 1
        if options.check:
            print(drift(current, text, target), end="")
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(REPO)}")
    left_over = strays()
    for stray in left_over:
        print(f"{stray.relative_to(REPO)} has no async source in _async/: delete it")
    if options.check and out_of_date:
        print(f"{out_of_date} sync module(s) out of date: run .venv/bin/python scripts/unasync.py")
        return 1
    return 1 if left_over else 0


if __name__ == "__main__":
    sys.exit(main())
