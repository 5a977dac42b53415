# `matrix doctor` asks the user's interpreter, once, where its packages are.
# Run with -I -B (no PYTHON* variables, no user site, no bytecode written):
# the environment under diagnosis is read, never written. Prints one JSON
# object; the scan itself (dist-info folders, RECORD, compiled modules) is
# done by abimatrix from these folders, without importing anything.
import json
import os
import platform
import sys
from importlib.machinery import EXTENSION_SUFFIXES

# The interpreter the environment was made from: the tool's own trial
# environments are made from it (a venv's bin/python is only a link to it).
base = os.path.join(sys.base_prefix, "bin", "python%d.%d" % sys.version_info[:2])
if not os.path.exists(base):
    base = os.path.realpath(sys.executable)

print(json.dumps({
    "executable": sys.executable,
    "base_executable": base,
    "prefix": sys.prefix,
    "version": platform.python_version(),
    "virtualenv": sys.prefix != sys.base_prefix,
    "path": [p for p in sys.path if p and os.path.isdir(p)],
    "extension_suffixes": EXTENSION_SUFFIXES,
}))
