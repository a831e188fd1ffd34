"""Code that is imported when first used, so that a command parses and checks its flags, and
answers --help, before TensorFlow is imported (about 7 s here).

A registry names its classes as "module:attribute" references (`load`); a package's
`__init__` exports its names from the submodules that define them, importing one only when its
name is asked for (`exports`).
"""

import importlib


def load(reference: str):
    """The object a "package.module:attribute" reference names."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def exports(package: str, submodules: dict[str, tuple[str, ...]]):
    """`__getattr__` and `__all__` for a package whose names live in `submodules` (submodule ->
    names): `from package import name` imports that submodule alone."""
    where = {name: module for module, names in submodules.items() for name in names}

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    return __getattr__, sorted(where)
