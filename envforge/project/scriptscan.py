"""What each console script's module imports when it loads: a bounded static read.

The plan needs to know whether a script starts in an image that lacks some extra (the
one script of a project whose CLI imports typer, which only the `cli` extra installs).
Nothing is imported or run: each file is parsed with `ast`. What counts is what runs
when the entry point's module is imported: the module-level imports of the module and
of the package `__init__` modules on its dotted path, following the project's own
modules (relative imports, and absolute ones into its own packages) a few files deep.
Not counted: imports inside functions, under `if TYPE_CHECKING:`, under a
test of whether something is installed (`if _torch_available:`, `if HAS_RICH:`) or
`if __name__ == "__main__":`, in `with suppress(ImportError):`, and in a `try` whose
handler catches ImportError and goes on (one that re-raises or exits does not make the
import optional). Bounded: file size, files per script and in all, depth; a file that
is too big, not UTF-8, not Python, or reached through a symlink or out of the project
is skipped, never an error.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from envforge import safeio

MAX_FILE_BYTES = 512 * 1024
MAX_FILES = 300  # parsed in all, for all the scripts
MAX_FILES_PER_SCRIPT = 64
MAX_DEPTH = 3  # own modules followed from the entry module and its packages
MAX_SCRIPTS = 64
_MAX_NESTING = 32  # statements nested in if/try/with that are looked into
_MAX_NAMES = 1000  # imported names read per file
_MAX_MODULE = 200  # characters of an entry point's module, dots included

# A console script's value: module[:object[.attr]] [extra, ...]
ENTRY_POINT_RE = re.compile(
    r"\s*(?P<module>[\w.]+)\s*(?::\s*(?P<attr>[\w.]+)\s*)?(?:\[(?P<extras>[^\]]*)\])?\s*"
)
_GUARDS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def entry_module(value: str) -> str | None:
    """The module of an entry point ('mcp.cli:app [cli]' -> 'mcp.cli'), or None."""
    match = ENTRY_POINT_RE.fullmatch(value)
    if not match:
        return None
    module = match["module"]
    if len(module) > _MAX_MODULE:
        return None
    return module if all(p.isidentifier() for p in module.split(".")) else None


@dataclass(frozen=True)
class _Import:
    module: str  # '' for `from . import x`
    names: tuple[str, ...]  # what `from module import ...` names; () for `import module`
    level: int  # 0: absolute


def script_imports(
    root: Path, bases: Sequence[Path], scripts: Mapping[str, str]
) -> dict[str, frozenset[str]]:
    """Script name -> the top-level names of the absolute imports that loading its entry
    point runs, the project's own packages left out (they are followed instead).

    bases: the folders the project's packages live in (the project folder, src/, ...).
    A script whose module is not in the project's source gets no entry."""
    scanner = _Scanner(root, bases)
    out: dict[str, frozenset[str]] = {}
    for name in sorted(scripts)[:MAX_SCRIPTS]:
        module = entry_module(scripts[name])
        if module is None or scanner.locate(module) is None:
            continue
        out[name] = scanner.imports_of(module)
    return out


class _Scanner:
    def __init__(self, root: Path, bases: Sequence[Path]) -> None:
        try:
            self.root = root.resolve()
        except OSError:
            self.root = root
        self.bases = [b for b in bases if safeio.real_dir(b)]
        self.parsed: dict[Path, tuple[_Import, ...]] = {}
        self.located: dict[str, tuple[Path, bool] | None] = {}
        self.budget = MAX_FILES

    def locate(self, module: str) -> tuple[Path, bool] | None:
        """The file of a dotted module in the project, and whether it is a package."""
        if module not in self.located:
            self.located[module] = self._locate(module)
        return self.located[module]

    def _locate(self, module: str) -> tuple[Path, bool] | None:
        parts = module.split(".")
        if not all(p.isidentifier() for p in parts):
            return None
        for base in self.bases:
            folder = base.joinpath(*parts)
            if safeio.real_dir(base / parts[0]) or safeio.real_file(base / f"{parts[0]}.py"):
                # The first base that holds the top-level name is where Python finds it.
                if not all(
                    safeio.real_dir(base.joinpath(*parts[:i])) for i in range(1, len(parts))
                ):
                    return None
                if safeio.real_dir(folder) and safeio.real_file(folder / "__init__.py"):
                    return self._inside(folder / "__init__.py", True)
                if safeio.real_file(folder.with_name(parts[-1] + ".py")):
                    return self._inside(folder.with_name(parts[-1] + ".py"), False)
                return None
        return None

    def _inside(self, path: Path, package: bool) -> tuple[Path, bool] | None:
        try:
            resolved = path.resolve()
        except OSError:
            return None
        return (path, package) if resolved.is_relative_to(self.root) else None

    def own(self, top: str) -> bool:
        return any(
            safeio.real_dir(b / top) or safeio.real_file(b / f"{top}.py") for b in self.bases
        )

    def imports_of(self, module: str) -> frozenset[str]:
        found: set[str] = set()
        seen: set[str] = set()
        queue: list[tuple[str, int]] = [(m, 0) for m in _chain(module)]
        while queue and len(seen) < MAX_FILES_PER_SCRIPT:
            name, depth = queue.pop(0)
            if name in seen:
                continue
            seen.add(name)
            where = self.locate(name)
            if where is None:
                continue
            path, package = where
            for imp in self.parse(path):
                for target in self._targets(imp, name, package, found):
                    if depth < MAX_DEPTH:
                        queue += [(m, depth + 1) for m in _chain(target) if m not in seen]
        return frozenset(found)

    def _targets(self, imp: _Import, current: str, package: bool, found: set[str]) -> list[str]:
        """The project's modules an import runs; the external top-level name goes to found."""
        if imp.level:
            parts = current.split(".") if package else current.split(".")[:-1]
            if imp.level - 1 >= len(parts):
                return []
            anchor = parts[: len(parts) - (imp.level - 1)]
            module = ".".join(anchor + ([imp.module] if imp.module else []))
        else:
            module = imp.module
            top = module.split(".")[0]
            if not self.own(top):
                found.add(top)
                return []
        if len(module) > _MAX_MODULE:
            return []  # a dotted name no project has: not followed
        targets = [module]
        # `from pkg import sub` runs pkg/sub.py when sub is a module.
        targets += [f"{module}.{n}" for n in imp.names if n != "*" and self.locate(f"{module}.{n}")]
        return targets

    def parse(self, path: Path) -> tuple[_Import, ...]:
        if path in self.parsed:
            return self.parsed[path]
        found: tuple[_Import, ...] = ()
        if self.budget > 0:
            self.budget -= 1
            found = tuple(_module_imports(_source(path)))
        self.parsed[path] = found
        return found


def _chain(module: str) -> list[str]:
    """'a.b.c' -> ['a', 'a.b', 'a.b.c']: importing a module runs its packages first."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _source(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_FILE_BYTES or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _module_imports(source: str | None) -> list[_Import]:
    if source is None:
        return []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for "\d" and the like
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    out: list[_Import] = []
    _walk(tree.body, out, 0, [_MAX_NAMES])
    return out


def _walk(body: list[ast.stmt], out: list[_Import], nesting: int, left: list[int]) -> None:
    """Module-level imports of body into out; left: how many more names may be read."""
    if nesting > _MAX_NESTING:
        return
    for stmt in body:
        if left[0] <= 0:
            return
        if isinstance(stmt, ast.Import):
            aliases = stmt.names[: left[0]]
            left[0] -= len(aliases)
            out += [_Import(alias.name, (), 0) for alias in aliases]
        elif isinstance(stmt, ast.ImportFrom):
            names = tuple(alias.name for alias in stmt.names[: left[0]])
            left[0] -= max(len(names), 1)
            out.append(_Import(stmt.module or "", names, stmt.level))
        elif isinstance(stmt, ast.If):
            if not _skipped_test(stmt.test):
                _walk(stmt.body, out, nesting + 1, left)
            _walk(stmt.orelse, out, nesting + 1, left)
        elif isinstance(stmt, (ast.Try, ast.TryStar)):
            if not _optional(stmt.handlers):
                _walk(stmt.body, out, nesting + 1, left)
                _walk(stmt.orelse, out, nesting + 1, left)
            _walk(stmt.finalbody, out, nesting + 1, left)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)) and not any(
            _named(item.context_expr, "suppress") for item in stmt.items
        ):
            _walk(stmt.body, out, nesting + 1, left)


# Names that say a test checks whether something is installed (`if _peft_available:`,
# `if is_torch_available():`, `if HAS_RICH:`): what such a branch imports is optional.
_AVAILABILITY_RE = re.compile(r"available|installed|importable|^_?has_", re.IGNORECASE)


def _skipped_test(test: ast.expr) -> bool:
    """A branch whose body does not run on load, or runs only when something is installed:
    `if TYPE_CHECKING:` (also `TYPE_CHECKING or _x_available`), an availability check, and
    `if __name__ == "__main__":`."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return False  # `if not TYPE_CHECKING:` runs
    for node in ast.walk(test):
        name = (
            node.id
            if isinstance(node, ast.Name)
            else node.attr
            if isinstance(node, ast.Attribute)
            else None
        )
        if name is not None and (name == "TYPE_CHECKING" or _AVAILABILITY_RE.search(name)):
            return True
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
        and isinstance(test.ops[0], ast.Eq)
    )


def _named(node: ast.expr, name: str) -> bool:
    """node is `name`, `x.name` or a call of either."""
    if isinstance(node, ast.Call):
        node = node.func
    return (isinstance(node, ast.Name) and node.id == name) or (
        isinstance(node, ast.Attribute) and node.attr == name
    )


def _optional(handlers: list[ast.ExceptHandler]) -> bool:
    """A handler catches a failed import and the module goes on loading without it."""
    return any(_catches_import(h.type) and not _gives_up(h.body) for h in handlers)


def _catches_import(kind: ast.expr | None) -> bool:
    if kind is None:
        return True
    if isinstance(kind, ast.Tuple):
        return any(_catches_import(k) for k in kind.elts)
    return any(_named(kind, guard) for guard in _GUARDS)


def _gives_up(body: list[ast.stmt]) -> bool:
    """The handler re-raises or exits (sys.exit, exit, quit, os._exit): the import is needed."""
    for stmt in body:
        if isinstance(stmt, ast.Raise):
            return True
        if (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Call)
            and any(_named(stmt.value, name) for name in ("exit", "quit", "_exit"))
        ):
            return True
        if isinstance(stmt, ast.If) and _gives_up(stmt.body) and _gives_up(stmt.orelse):
            return True
    return False
