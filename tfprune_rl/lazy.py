"""Code that is imported when first used, so that a command parses and checks its flags, and
answers --help, before TensorFlow is imported (about 7 s here).

A registry maps names to "module:attribute" references; a package's `__init__` exports its
names from the submodules that define them, importing one only when its name is asked for.
"""

import importlib
from collections.abc import Iterator, Mapping


def load(reference: str):
    """The object a "package.module:attribute" reference names."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


class Registry(Mapping):
    """Names and the references they stand for, loaded when looked up: the names are known,
    listed and checked without importing what they stand for."""

    def __init__(self, what: str, references: dict[str, str]):
        self.what = what
        self._references = dict(references)

    def __getitem__(self, name: str):
        return load(self._references[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._references)

    def __len__(self) -> int:
        return len(self._references)

    def check(self, name: str) -> str:
        if name not in self._references:
            raise ValueError(f"unknown {self.what} {name!r}; choose one of {', '.join(self)}")
        return name


def exports(package: str, submodules: dict[str, tuple[str, ...]]):
    """`__getattr__` and `__all__` for a package whose names live in `submodules` (submodule ->
    names): `from package import name` imports that submodule alone."""
    where = {name: module for module, names in submodules.items() for name in names}

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    return __getattr__, sorted(where)
