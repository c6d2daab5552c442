"""The operator process's two sys.modules tricks, both to keep pymilvus's data-frame stack out of its memory.

1. pyarrow is marked absent (`block_pyarrow`): pymilvus depends on it for bulk writes the operator never makes,
   and pandas picks it up when installed: ~60 MB of RSS for nothing.
2. pandas is deferred until something really uses it (`install`): ~42 MB otherwise.

pymilvus imports pandas at module level for DataFrame inserts and dtype inference, none of which the
operator does. `install()` puts placeholders in sys.modules before pymilvus is imported: the functions
pymilvus takes by name (`from pandas.api.types import is_scalar`) call the real ones, and any other
attribute, a call of `DataFrame`, or a later `import pandas` elsewhere in the process loads real pandas
and is served by it. `DataFrame` itself is a placeholder class for pymilvus's import-time annotations and
isinstance checks: nothing can be a real DataFrame before real pandas is loaded. Only the operator
process (`__main__`) installs these; the library is unaffected. tests/unit/test_lazy_imports.py checks both
against the pinned pymilvus and pandas.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any  # the stand-ins take and return whatever pandas's (untyped) API does

TYPES_FUNCTIONS = ("infer_dtype", "is_array_like", "is_float", "is_list_like", "is_scalar")
_NAMES = ("pandas", "pandas.api", "pandas.api.types")
_placeholders: dict[str, types.ModuleType] = {}


def _real() -> types.ModuleType:
    """Real pandas, imported on first use; placeholders leave sys.modules so later imports get it."""
    current = sys.modules.get("pandas")
    if current is not None and current is not _placeholders.get("pandas"):
        return current
    for name in _NAMES:
        if sys.modules.get(name) is _placeholders.get(name):
            del sys.modules[name]
    return importlib.import_module("pandas")


def loaded() -> bool:
    """True once real pandas has been imported."""
    current = sys.modules.get("pandas")
    return current is not None and current is not _placeholders.get("pandas")


class _DataFrameMeta(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        return loaded() and isinstance(obj, _real().DataFrame)

    def __subclasscheck__(cls, sub: Any) -> bool:
        return loaded() and issubclass(sub, _real().DataFrame)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return _real().DataFrame(*args, **kwargs)


class DataFrame(metaclass=_DataFrameMeta):
    """Stands for pandas.DataFrame until pandas is loaded."""


def _deferred(name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(_real().api.types, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


class _Placeholder(types.ModuleType):
    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        real = _real()
        for part in self.__name__.split(".")[1:]:
            real = getattr(real, part)
        return getattr(real, attr)


def block_pyarrow() -> None:
    """Before pandas or pymilvus is imported: `import pyarrow` then fails, and pandas runs without it."""
    sys.modules.setdefault("pyarrow", None)  # type: ignore[arg-type]


def install() -> bool:
    """Before pymilvus is imported; False (and nothing done) when pandas is already loaded."""
    if "pandas" in sys.modules:
        return False
    top, api, api_types = (_Placeholder(name) for name in _NAMES)
    for module in (top, api):
        module.__path__ = []
    top.__dict__.update(api=api, DataFrame=DataFrame)
    api.__dict__["types"] = api_types
    api_types.__dict__.update({name: _deferred(name) for name in TYPES_FUNCTIONS})
    for name, module in zip(_NAMES, (top, api, api_types), strict=True):
        _placeholders[name] = module
        sys.modules[name] = module
    return True
