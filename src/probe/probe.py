# The probe: runs in a fresh Python of one runtime environment, with -I (no
# user site, no PYTHON* variables, no current directory on sys.path) and
# faulthandler on. It imports numpy, imports the module built for this cell
# from its own artifact directory, runs the probe code, and writes what
# happened as JSON to the result file. If the child dies (a signal), there is
# no result file, and abimatrix reads the exit status instead.
#
# argv: artifact_dir modules probe_file result_file, where modules is a
# comma-separated list imported in order; `module` is bound to the first.
#
# The fork server (forkserver.py) loads this file and calls probe() in each
# forked child, so both isolation modes run exactly the same code.
import json
import os
import sys
import traceback


def probe(artifact_dir, modules, probe_file, result_file):
    """Runs one cell's probe; never returns (exits 0 on pass, 1 otherwise)."""
    result = {"status": "error", "stage": "import-numpy"}

    def write():
        # Written then renamed: a reader never sees half a result.
        tmp = result_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f)
        os.replace(tmp, result_file)

    try:
        import numpy as np

        result["numpy"] = np.__version__
        result["stage"] = "import-module"
        sys.path.insert(0, artifact_dir)
        import importlib

        names = [m for m in modules.split(",") if m]
        root = os.path.realpath(artifact_dir) + os.sep
        loaded = []
        for name in names:
            mod = importlib.import_module(name)
            origin = os.path.realpath(getattr(mod, "__file__", "") or "")
            if not origin.startswith(root):
                raise ImportError(
                    "imported %s from %s, not the artifact made for this cell" % (name, origin)
                )
            loaded.append(mod)
        module = loaded[0] if loaded else None
        result["stage"] = "probe"
        with open(probe_file) as f:
            code = f.read()
        namespace = {"np": np, "numpy": np, "module": module, "__name__": "__probe__"}
        for name, mod in zip(names, loaded):
            namespace.setdefault(name.split(".")[0], sys.modules[name.split(".")[0]])
        exec(compile(code, "<probe>", "exec"), namespace)
    except BaseException as e:  # noqa: B036 - SystemExit from a probe is a failure too
        wrong = isinstance(e, AssertionError) and result["stage"] == "probe"
        result["status"] = "wrong-result" if wrong else "error"
        result["exception"] = type(e).__name__
        result["message"] = str(e)
        traceback.print_exc()
        write()
        # os._exit skips interpreter shutdown, so flush what the probe wrote.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    result["status"] = "pass"
    write()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    probe(*sys.argv[1:5])
