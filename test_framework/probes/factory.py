"""Is the in-process factory ``module:callable`` there, and of the documented signature? Found
without importing anything: the module is located with ``importlib`` finders (which run no
package code) and the callable is read from the module's source with ``ast``.

Importing the service would cost more than the whole probe budget, and the probing process
(nox's own environment) may not have the service installed at all: ``FactoryCheck.found`` is
``False`` then, and the session's own probe decides. Standard library only.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path

# The keyword arguments the harness passes to a factory that accepts them.
FACTORY_KEYWORDS = ("host", "port", "test_password", "jwt_secret", "test_token")
REQUIRED_KEYWORDS = ("host", "port")
SIGNATURE = "async def start(*, host: str, port: int, **kwargs) -> service"


@dataclass(frozen=True)
class FactoryCheck:
    """``found``: the module is importable here. ``problem``: why it cannot be the factory
    (``None`` when it can, or when nothing could be checked). ``detail``: what was checked."""

    found: bool
    detail: str
    problem: str | None = None


def check_factory(reference: str) -> FactoryCheck:
    module_name, _, attribute = reference.partition(":")
    read = _read_module(module_name, "here")
    if isinstance(read, FactoryCheck):
        return read
    source, tree = read
    binding = _top_level_binding(tree, attribute)
    if binding is None:
        return FactoryCheck(
            True,
            str(source),
            f"{module_name} has no top-level {attribute!r}: define {SIGNATURE}"
            " there, or fix the name in factory",
        )
    if isinstance(binding, str):
        return FactoryCheck(True, f"{reference}: not checked: {binding}")
    problem = signature_problem(binding.args, reference)
    return FactoryCheck(True, f"{reference} at {source.name}:{binding.lineno}", problem)


@dataclass(frozen=True)
class Parameters:
    """A callable's parameters, as the signature rules need them: read from the source
    (``ast``) or from the imported callable (``inspect``)."""

    keywordable: frozenset[str]  # may be passed by name
    any_keyword: bool  # has **kwargs
    required: tuple[str, ...]  # without a default; positional-only ones as "/name"

    @classmethod
    def from_ast(cls, args: ast.arguments) -> Parameters:
        positional = args.posonlyargs + args.args
        without_default = positional[: len(positional) - len(args.defaults)]
        without_default += [
            a
            for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
            if default is None
        ]
        return cls(
            keywordable=frozenset(a.arg for a in args.args + args.kwonlyargs),
            any_keyword=args.kwarg is not None,
            required=tuple(
                f"/{a.arg}" if a in args.posonlyargs else a.arg for a in without_default
            ),
        )

    @classmethod
    def from_signature(cls, signature: inspect.Signature) -> Parameters:
        kinds = inspect.Parameter
        values = list(signature.parameters.values())
        return cls(
            keywordable=frozenset(
                p.name
                for p in values
                if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
            ),
            any_keyword=any(p.kind is kinds.VAR_KEYWORD for p in values),
            required=tuple(
                f"/{p.name}" if p.kind is kinds.POSITIONAL_ONLY else p.name
                for p in values
                if p.default is kinds.empty
                and p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD)
            ),
        )


def signature_problem(params: ast.arguments | Parameters, reference: str) -> str | None:
    """Why a function with ``params`` cannot be called with the harness's keywords, or ``None``."""
    if isinstance(params, ast.arguments):
        params = Parameters.from_ast(params)
    missing = [name for name in REQUIRED_KEYWORDS if name not in params.keywordable]
    if missing and not params.any_keyword:
        return (
            f"factory {reference} does not accept {' and '.join(missing)}:"
            f" it must be callable as {SIGNATURE}"
        )
    # Parameters without a default that the harness never passes make every call fail.
    unknown = [
        name.lstrip("/")
        for name in params.required
        if name.startswith("/") or name not in FACTORY_KEYWORDS
    ]
    if unknown:
        return (
            f"factory {reference} requires {', '.join(sorted(set(unknown)))}, which the harness"
            f" does not pass (it passes {', '.join(FACTORY_KEYWORDS)} as it accepts them):"
            " give them defaults"
        )
    return None


def imported_problem(reference: str) -> str | None:
    """Import the factory's module (in the session, which imports it anyway) and check the
    callable itself: what the source could not tell (a name bound by import or assignment)."""
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return f"cannot import factory module {module_name!r}: {exc}"
    except Exception as exc:  # noqa: BLE001 - the team's module failed; say how, in one line
        return f"importing factory module {module_name!r} failed: {type(exc).__name__}: {exc}"
    factory = getattr(module, attribute, None)
    if factory is None:
        return f"{module_name} has no {attribute!r}: define {SIGNATURE} there, or fix factory"
    if not callable(factory):
        return f"factory {reference} is not callable: it must be callable as {SIGNATURE}"
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError) as exc:
        return f"cannot read the signature of factory {reference} ({exc}): make it {SIGNATURE}"
    return signature_problem(Parameters.from_signature(signature), reference)


def check_asgi_app(reference: str, app_dir: Path) -> FactoryCheck:
    """Is ``module:attribute`` there for uvicorn, which imports it with ``app_dir`` first on
    its path? Read from the source like a factory; the attribute may be bound any way."""
    module_name, _, attribute = reference.partition(":")
    read = _read_module(module_name, f"from {app_dir}", first=str(app_dir))
    if isinstance(read, FactoryCheck):
        return read
    source, tree = read
    if _top_level_binding(tree, attribute) is None:
        return FactoryCheck(
            True,
            str(source),
            f"{module_name} has no top-level {attribute!r}: fix asgi_app, e.g. 'main:app'",
        )
    return FactoryCheck(True, f"{reference} in {source}")


def _read_module(
    module_name: str, where: str, first: str | None = None
) -> tuple[Path, ast.Module] | FactoryCheck:
    """The module's source and its syntax tree, or the check that ends there (not found, no
    source to read, unreadable)."""
    source = _module_source(module_name, first)
    if source is None:
        return FactoryCheck(False, f"module {module_name!r} is not importable {where}")
    if isinstance(source, str):
        return FactoryCheck(True, f"{module_name}: not checked: {source}")
    try:
        return source, ast.parse(source.read_bytes(), filename=str(source))
    except (OSError, SyntaxError, ValueError) as exc:
        return FactoryCheck(True, str(source), f"cannot read {source}: {exc}")


def _module_source(name: str, first: str | None = None) -> Path | str | None:
    """The module's source file; a string saying why none can be read; ``None`` if not found.
    ``first``: a folder searched before ``sys.path``.

    Walks the dotted name with the path finders, so no package's ``__init__`` runs.
    """
    parts = name.split(".")
    try:
        spec = None
        if first is not None:
            spec = importlib.machinery.PathFinder.find_spec(parts[0], [first])
        if spec is None:
            spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return None
    for index in range(1, len(parts)):
        if spec is None or spec.submodule_search_locations is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(
            ".".join(parts[: index + 1]), list(spec.submodule_search_locations)
        )
    if spec is None:
        return None
    origin = spec.origin
    if not origin or not origin.endswith(".py"):
        return f"no Python source ({origin or 'a namespace package'})"
    return Path(origin)


def _top_level_binding(
    tree: ast.Module, name: str
) -> ast.FunctionDef | ast.AsyncFunctionDef | str | None:
    """The function ``name`` is defined as at the module's top level; a string saying how it
    is bound otherwise (nothing to check statically); ``None`` when it is not bound at all."""
    found: ast.FunctionDef | ast.AsyncFunctionDef | str | None = None
    star = False
    for node in _top_level(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            found = node
        elif isinstance(node, ast.ClassDef) and node.name == name:
            found = "a class"
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    star = True
                elif (alias.asname or alias.name.split(".")[0]) == name:
                    found = "bound by import"
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and name in _targets(
            node
        ):
            found = "bound by assignment"
    if found is None and star:
        return "the module has a star import"
    return found


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Top-level statements, including those under ``if``/``try`` (e.g. optional imports)."""
    statements: list[ast.stmt] = []
    for node in body:
        statements.append(node)
        if isinstance(node, ast.If):
            statements += _top_level(node.body) + _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            statements += _top_level(node.body) + _top_level(node.orelse)
            for handler in node.handlers:
                statements += _top_level(handler.body)
            statements += _top_level(node.finalbody)
    return statements


def _targets(node: ast.Assign | ast.AnnAssign | ast.AugAssign) -> set[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
