# `matrix doctor`'s trial of one installed package, in its own process of
# the user's interpreter, started with -I -B -X faulthandler (no PYTHON*
# variables, no user site, no bytecode written into the environment).
#
# argv: result_file module...  Imports numpy, then each module in order
# (the compiled modules that use NumPy's C API, then the top-level
# packages), going on after a failure so every failing module is named.
# Before each import it prints "abimatrix-doctor: importing NAME" to stdout
# and flushes: a crash leaves no result file, and that line says where it
# happened. Writes {"status": "pass" | "error", "stage", "numpy",
# "exception", "message", "module", "failures": [...]} (the first failure
# at the top level, read as a ProbeReport by abimatrix), then exits 0 on
# pass and 1 otherwise. Each failure says which module was imported, which
# module raised (not the same: importing `h5py._conv` runs
# `h5py/__init__.py`, which imports `h5py._errors`, which raises), the
# whole error as Python prints it, what the import printed to stderr, and
# the other packages the error says are missing.
import io
import json
import os
import re
import sys
import traceback

NO_MODULE = re.compile(r"No module named '([^']+)'")


class Tee(io.TextIOBase):
    """stderr as it is, and a copy: import_array() prints its specific
    error to stderr, then raises a generic ImportError; the copy keeps
    each module's own words."""

    def __init__(self, real):
        self.real = real
        self.copy = io.StringIO()

    def write(self, text):
        self.copy.write(text)
        return self.real.write(text)

    def flush(self):
        self.real.flush()


def frame_module(tb):
    """The module of the innermost frame of `tb` that is not the import
    machinery's (None when there is none). Cython names its own frames
    after the module being initialised ("init h5py._errors"), with that
    module's globals."""
    name = None
    while tb is not None:
        frame = tb.tb_frame
        module = frame.f_globals.get("__name__")
        # The import machinery's frames and this driver's say nothing.
        if not frame.f_code.co_filename.startswith("<frozen") and module not in (None, "importlib", "__main__"):
            name = module
        tb = tb.tb_next
    return name


def watch_extension_loads():
    """Marks an exception that leaves a compiled module's initialisation
    with the module that raised it: a compiled module's init function has
    no Python frame of its own, so the traceback alone would name the
    module whose `import` statement loaded it. The innermost mark wins."""
    from importlib.machinery import ExtensionFileLoader

    def wrap(method):
        def wrapper(self, arg):
            try:
                return method(self, arg)
            except BaseException as e:  # noqa: B036 - marked, then raised again
                if getattr(e, "_abimatrix_raised", None) is None:
                    # Frames inside this one: a Python module the
                    # extension imported raised, or Cython's own frame.
                    inner = frame_module(e.__traceback__.tb_next) if e.__traceback__ else None
                    name = getattr(self, "name", None)
                    try:
                        e._abimatrix_raised = inner or name
                    except Exception:  # noqa: BLE001 - an exception without attributes
                        pass
                raise

        return wrapper

    ExtensionFileLoader.create_module = wrap(ExtensionFileLoader.create_module)
    ExtensionFileLoader.exec_module = wrap(ExtensionFileLoader.exec_module)


def chain(e):
    """`e` and the exceptions it was raised from or during, once each."""
    seen = []
    while e is not None and not any(e is s for s in seen):
        seen.append(e)
        e = e.__cause__ or e.__context__
    return seen


def missing_modules(e, own):
    """Top-level modules the error says are missing that are neither the
    package's own (`own`) nor NumPy's (a module built for NumPy 2 under
    NumPy 1 misses `numpy._core`: that is NumPy's problem), in the order
    the error names them."""
    names = []
    for x in chain(e):
        found = []
        if isinstance(x, ImportError) and getattr(x, "name", None) and type(x).__name__ == "ModuleNotFoundError":
            found.append(x.name)
        found.extend(NO_MODULE.findall(str(x)))
        for name in found:
            top = name.split(".")[0]
            if top and top not in own and top != "numpy" and top not in names:
                names.append(top)
    return names


def main(result_file, modules):
    import importlib

    result = {"status": "error", "stage": "import-numpy", "failures": []}
    real = sys.stderr
    own = set(m.split(".")[0] for m in modules)
    try:
        import numpy

        result["numpy"] = numpy.__version__
    except BaseException as e:  # noqa: B036 - any failure is reported
        result["exception"] = type(e).__name__
        result["message"] = str(e)
        result["module"] = "numpy"
        traceback.print_exc()
    else:
        result["stage"] = "import-module"
        watch_extension_loads()
        for name in modules:
            sys.stdout.write("abimatrix-doctor: importing %s\n" % name)
            sys.stdout.flush()
            tee = Tee(real)
            sys.stderr = tee
            try:
                importlib.import_module(name)
            except BaseException as e:  # noqa: B036 - SystemExit on import is a failure too
                sys.stderr = real
                text = traceback.format_exc()
                real.write(text)
                raised = getattr(e, "_abimatrix_raised", None) or frame_module(e.__traceback__)
                result["failures"].append({
                    "module": name,
                    "raised": raised or name,
                    "exception": type(e).__name__,
                    "message": str(e),
                    "error": "".join(traceback.format_exception_only(type(e), e)).rstrip("\n"),
                    "traceback": text,
                    "output": tee.copy.getvalue(),
                    "missing": missing_modules(e, own),
                })
            finally:
                sys.stderr = real
        if result["failures"]:
            first = result["failures"][0]
            for key in ("exception", "message", "module"):
                result[key] = first[key]
        else:
            result["status"] = "pass"
    tmp = result_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, result_file)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if result["status"] == "pass" else 1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
