# `matrix doctor`'s probe for the grids it runs in its own environments:
# import each top-level package (the row's own are the grid's `imports`;
# a set checked together has the others' too), then every compiled module
# under them that uses NumPy's C API, by the
# same rule as the scan (`MARKERS`, prepended by abimatrix from
# src/doctor/scan.rs), so that another release of a package, whose modules
# may have other names, is tried as thoroughly as the installed one.
import importlib
import os
from importlib.machinery import EXTENSION_SUFFIXES

suffixes = sorted(EXTENSION_SUFFIXES, key=len, reverse=True)
markers = [m.encode() for m in MARKERS]  # noqa: F821 - prepended


def c_api_modules(package):
    for root in getattr(package, "__path__", None) or []:
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                suffix = next((s for s in suffixes if name.endswith(s)), None)
                if suffix is None:
                    continue
                path = os.path.join(folder, name)
                with open(path, "rb") as f:
                    data = f.read()
                if not any(m in data for m in markers):
                    continue
                rel = os.path.relpath(path[: -len(suffix)], root)
                yield package.__name__ + "." + rel.replace(os.sep, ".")


for top in TOPS:  # noqa: F821 - prepended
    for name in c_api_modules(importlib.import_module(top)):
        importlib.import_module(name)
