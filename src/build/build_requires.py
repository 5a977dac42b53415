# Asks a project's PEP 517 build backend which requirements it adds at build
# time (`get_requires_for_build_wheel`): meson-python asks for ninja,
# scikit-build-core for cmake and ninja, setuptools-scm projects for
# setuptools-scm. Runs with the project's source tree as working directory,
# in the build environment (its bin/ first on PATH), as a build frontend
# would.
#
# argv: result_file backend [backend_path ...]; writes a JSON list of
# requirement strings to result_file (a backend may print to stdout).
import importlib
import json
import os
import sys

result, backend_name, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
for path in reversed(paths):
    sys.path.insert(0, os.path.abspath(path))
module, _, attrs = backend_name.partition(":")
backend = importlib.import_module(module.strip())
for attr in filter(None, attrs.strip().split(".")):
    backend = getattr(backend, attr)
hook = getattr(backend, "get_requires_for_build_wheel", None)
requires = list(hook({})) if hook is not None else []
with open(result, "w") as f:
    json.dump(requires, f)
