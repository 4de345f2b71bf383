"""Importing the Anthropic SDK in a fraction of the time: its re-export packages load lazily.

``import anthropic`` executes about 3,000 modules (1,500 pydantic models: every type and
resource of the whole API, beta included) because each package's ``__init__.py`` re-exports
everything below it. A turn needs the client, the streaming classes, the errors and the
Messages types. ``import_sdk`` installs a meta-path finder that gives every ``anthropic.*``
package whose ``__init__.py`` is *only* re-exports (``from .x import Y as Y`` lines and
``__all__``) a module that binds those names on first access (PEP 562 ``__getattr__``), and
does the same for the top-level package, whose few other statements are known and reproduced
(the logging set-up, the ``resources`` proxy, the classes' ``__module__``). Every name still
resolves to the very object the eager import would give; only when it is built changes.

One name is bound to a forwarder instead (``_DEFERRED``): ``finish_api_call_span``, which the
client calls only to finish the OpenTelemetry span of a traced call (an SDK method's call with a
tracer provider configured; the harness's raw posts never have one). Its module pulls in about
560 beta type modules, 100 ms of the import; the forwarder imports it on its first call.

Anything the finder does not recognise (another SDK version with other statements in an
``__init__.py``, an exported name that shadows a submodule) is imported the ordinary way, so
an SDK upgrade can make this slower but not wrong. ``AGENT_LSP_SDK_LAZY=0`` turns it off.
"""

from __future__ import annotations

import __future__
import ast
import contextlib
import gc
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

SDK = "anthropic"

# The top-level __init__.py's statements besides imports and __all__, as ast.unparse gives them
# (anthropic 2.14): reproduced by ``_LazyTop``. Any other statement: the eager import.
_TOP_KNOWN = (
    "import typing as _t",
    "if not _t.TYPE_CHECKING:\n    from ._utils._resources_proxy import resources as resources",
    "_setup_logging()",
    "__locals = locals()",
    "for __name in __all__:\n    if not __name.startswith('__'):\n        try:\n"
    "            __locals[__name].__module__ = 'anthropic'\n        except (TypeError, AttributeError):\n"
    "            pass",
)

# package -> name -> the submodule that defines it: names the first request does not need
_DEFERRED = {"anthropic.lib._tracing": {"finish_api_call_span": "_api_call"}}

_importing = threading.Lock()  # a second caller (the turn, while prewarm runs) waits for the first


def sdk_ready() -> bool:
    """Whether ``import_sdk`` would return at once."""
    # the module's own dict: a getattr on the lazy top would search its star imports for the name
    return bool(getattr(sys.modules.get(SDK), "__dict__", {}).get("_agent_lsp_ready", False))


def import_sdk() -> types.ModuleType:
    """The ``anthropic`` module, imported lazily when that is known to be sound."""
    if sdk_ready():
        return sys.modules[SDK]
    with _importing:
        if SDK not in sys.modules and os.environ.get("AGENT_LSP_SDK_LAZY", "1") != "0":
            if not any(isinstance(finder, LazyPackages) for finder in sys.meta_path):
                sys.meta_path.insert(0, LazyPackages(SDK))
        with collector_paused():
            module = importlib.import_module(SDK)
            # what a turn uses, built now: the client, the streamed types, the errors
            for name in ("AsyncAnthropic", "AsyncStream", "APIStatusError", "APITimeoutError", "APIConnectionError"):
                getattr(module, name)
            module.types.Message, module.types.RawMessageStreamEvent  # noqa: B018
        module._agent_lsp_ready = True  # type: ignore[attr-defined]
    return module


def _forwarder(module_name: str, name: str) -> Any:
    """A function that imports ``module_name`` on its first call and calls its ``name``."""
    real: list[Any] = []

    def forward(*args: Any, **kwargs: Any) -> Any:
        if not real:
            real.append(getattr(importlib.import_module(module_name), name))
        return real[0](*args, **kwargs)

    forward.__name__ = forward.__qualname__ = name
    forward.__module__ = module_name
    forward.__doc__ = f"{module_name}.{name}, imported on the first call (agent.model.sdk_import)."
    return forward


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection while thousands of long-lived objects are created (an import
    makes no cycles worth collecting), then those objects moved out of the collector's way."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


class Exports:
    """What a package's ``__init__.py`` binds: name -> (submodule, attribute), the star
    imports in order, and its other statements (unparsed). ``None`` from ``read`` when it
    cannot be reproduced lazily."""

    def __init__(self, names: dict[str, tuple[str, str | None]], stars: list[str], other: list[str],
                 all_names: list[str] | None, submodules: set[str], future: list[str]) -> None:
        self.names = names
        self.future = future  # `from __future__ import annotations` binds that name too
        self.submodules = submodules
        self.stars = stars
        self.other = other
        self.all_names = all_names

    @classmethod
    def read(cls, init: Path) -> Exports | None:
        try:
            tree = ast.parse(init.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            return None
        names: dict[str, tuple[str, str | None]] = {}
        stars: list[str] = []
        other: list[str] = []
        all_names: list[str] | None = None
        future: list[str] = []
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                future += [alias.asname or alias.name for alias in node.names]
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                for alias in node.names:
                    if alias.name == "*":
                        if not node.module:
                            return None
                        stars.append(node.module)
                    elif node.module:
                        names[alias.asname or alias.name] = (node.module, alias.name)
                    else:  # from . import sub
                        names[alias.asname or alias.name] = (alias.name, None)
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1
                  and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "__all__"):
                try:
                    all_names = [str(n) for n in ast.literal_eval(node.value)]
                except ValueError:
                    return None
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # a docstring
            else:
                other.append(ast.unparse(node))
        submodules = {entry.name.removesuffix(".py") for entry in os.scandir(init.parent)
                      if (entry.name.endswith(".py") or entry.is_dir()) and not entry.name.startswith("__")}
        for name, (module, attribute) in names.items():
            if attribute is not None and name in submodules:
                return None  # the eager import rebinds a submodule's name: keep that order
        return cls(names, stars, other, all_names, submodules, future)


class LazyPackages(importlib.abc.MetaPathFinder):
    """Finds the SDK's packages and gives the pure re-export ones (and the known top) a lazy loader."""

    def __init__(self, root: str) -> None:
        self.root = root

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.root and not fullname.startswith(self.root + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.submodule_search_locations is None or not spec.origin:
            return spec
        init = Path(spec.origin)
        if init.name != "__init__.py":
            return spec
        exports = Exports.read(init)
        if exports is None:
            return spec
        if fullname == self.root:
            if exports.other != list(_TOP_KNOWN) or exports.all_names is None:
                return spec
            spec.loader = _LazyTop(exports)
        elif not exports.other and not exports.stars:
            spec.loader = _LazyInit(exports)
        return spec


class _LazyInit(importlib.abc.Loader):
    """A package whose names are bound on first access, from the submodules that define them."""

    def __init__(self, exports: Exports) -> None:
        self.exports = exports

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        exports = self.exports

        def __getattr__(name: str) -> Any:  # noqa: N807 (PEP 562)
            value = self.resolve(module, name)
            setattr(module, name, value)
            return value

        def __dir__() -> list[str]:  # noqa: N807
            return sorted(set(module.__dict__) | set(exports.names))

        for name in exports.future:
            setattr(module, name, getattr(__future__, name))
        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        module.__dir__ = __dir__  # type: ignore[method-assign]
        if exports.all_names is not None:
            module.__all__ = list(exports.all_names)
        else:  # what `from package import *` would have bound
            module.__all__ = [name for name in exports.names if not name.startswith("_")]

    def resolve(self, module: types.ModuleType, name: str) -> Any:
        target = self.exports.names.get(name)
        if target is None and name in self.exports.submodules:  # the eager import had loaded it
            return importlib.import_module(f"{module.__name__}.{name}")
        if target is None:
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
        submodule, attribute = target
        if (_DEFERRED.get(module.__name__, {}).get(name) == submodule and attribute == name
                and f"{module.__name__}.{submodule}" not in sys.modules):
            return _forwarder(f"{module.__name__}.{submodule}", name)
        loaded = importlib.import_module(f"{module.__name__}.{submodule}")
        return loaded if attribute is None else getattr(loaded, attribute)


class _LazyTop(_LazyInit):
    """The top-level package: lazy names, star imports searched last to first, and the
    statements of ``_TOP_KNOWN`` reproduced (logging now; ``__module__`` as names are bound)."""

    def exec_module(self, module: types.ModuleType) -> None:
        super().exec_module(module)
        import typing

        module._t = typing  # type: ignore[attr-defined]
        self.exports.names.setdefault("resources", ("_utils._resources_proxy", "resources"))
        logs = importlib.import_module(f"{module.__name__}._utils._logs")
        logs.setup_logging()

    def resolve(self, module: types.ModuleType, name: str) -> Any:
        if name in self.exports.names:
            value = super().resolve(module, name)
        elif name in self.exports.submodules:  # `from . import _exceptions`, `anthropic.lib`
            value = importlib.import_module(f"{module.__name__}.{name}")
        elif name.startswith("__"):
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
        else:
            for star in reversed(self.exports.stars):
                loaded = importlib.import_module(f"{module.__name__}.{star}")
                public = getattr(loaded, "__all__", None)
                if (name in public) if public is not None else (hasattr(loaded, name) and not name.startswith("_")):
                    value = getattr(loaded, name)
                    break
            else:
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
        if self.exports.all_names and name in self.exports.all_names and not name.startswith("__"):
            try:
                value.__module__ = module.__name__
            except (TypeError, AttributeError):
                pass
        return value
