# Run once per interpreter (with -I) to learn what it really is. Prints one
# JSON object; abimatrix never trusts an executable's name or location.
import json
import os
import platform
import sys
import sysconfig

cfg = sysconfig.get_config_var
include = sysconfig.get_paths().get("include") or cfg("INCLUDEPY") or ""
print(json.dumps({
    "executable": sys.executable,
    "version": platform.python_version(),
    "implementation": platform.python_implementation(),
    "machine": platform.machine(),
    "platform": sys.platform,
    "ext_suffix": cfg("EXT_SUFFIX") or "",
    "cc": cfg("CC") or "cc",
    "cflags": cfg("CFLAGS") or "",
    "ccshared": cfg("CCSHARED") or "",
    "ldshared": cfg("LDSHARED") or "",
    "include": include,
    "python_h": os.path.exists(os.path.join(include, "Python.h")),
}))
