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
# pass and 1 otherwise.
import io
import json
import os
import sys
import traceback


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


def main(result_file, modules):
    import importlib

    result = {"status": "error", "stage": "import-numpy", "failures": []}
    real = sys.stderr
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
        for name in modules:
            sys.stdout.write("abimatrix-doctor: importing %s\n" % name)
            sys.stdout.flush()
            tee = Tee(real)
            sys.stderr = tee
            try:
                importlib.import_module(name)
            except BaseException as e:  # noqa: B036 - SystemExit on import is a failure too
                traceback.print_exc()
                result["failures"].append({
                    "module": name,
                    "exception": type(e).__name__,
                    "message": str(e),
                    "output": tee.copy.getvalue(),
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
