# Run once per interpreter (with -I) to learn what it really is. Prints one
# JSON object; abimatrix never trusts an executable's name or location.
import json
import os
import platform
import sys
import sysconfig

cfg = sysconfig.get_config_var

# A free-threaded build (--disable-gil, "3.13t") has its own ABI: its own
# wheels (cp313t) and no stable ABI (abi3) until abi3t in 3.15.
free_threaded = bool(cfg("Py_GIL_DISABLED"))


def wheel_tags():
    """The wheel tags this interpreter installs, best first: packaging's
    answer (pip vendors it), else the CPython-on-glibc subset NumPy's wheels
    use."""
    for name in ("pip._vendor.packaging.tags", "packaging.tags"):
        try:
            module = __import__(name, fromlist=["sys_tags"])
            return [str(t) for t in module.sys_tags()]
        except Exception:
            pass
    if platform.python_implementation() != "CPython":
        return []
    major, minor = sys.version_info[:2]
    return fallback_tags(major, minor, free_threaded)


def fallback_tags(major, minor, free_threaded):
    """CPython's tags on this platform as packaging would list them, for
    the NumPy wheels' platforms: the interpreter's own ABI (cp313t when
    free-threaded), then abi3 (never when free-threaded), then none."""
    py = "cp%d%d" % (major, minor)
    own = py + ("m" if (major, minor) < (3, 8) else "") + ("t" if free_threaded else "")
    abis = [own] + ([] if free_threaded else ["abi3"]) + ["none"]
    arch = platform.machine()
    plats = []
    libc = getattr(os, "confstr", lambda _: None)("CS_GNU_LIBC_VERSION") or ""
    if sys.platform.startswith("linux") and libc.startswith("glibc "):
        glibc = [int(x) for x in libc.split()[1].split(".")[:2]]
        for m in range(glibc[1], 4, -1):
            plats.append("manylinux_%d_%d_%s" % (glibc[0], m, arch))
            legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}.get(m)
            if glibc[0] == 2 and legacy:
                plats.append("%s_%s" % (legacy, arch))
    if sys.platform.startswith("linux"):
        plats.append("linux_" + arch)
    return ["%s-%s-%s" % (py, abi, plat) for abi in abis for plat in plats] + ["py3-none-any"]


# Only a run answers (a test reads fallback_tags without running it).
if __name__ == "__main__":
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
        "tags": wheel_tags(),
        "free_threaded": free_threaded,
    }))
