# The probe: runs in a fresh Python of one runtime environment, with -I (no
# user site, no PYTHON* variables, no current directory on sys.path) and
# faulthandler on. It imports numpy, imports the module built for this cell
# from its own artifact directory, runs the probe code, and writes what
# happened as JSON to the result file (read as one tagged enum by
# probe/report.rs: {"status": "pass" | "wrong-result" | "error", ...}). If
# the child dies (a signal), there is no result file, and abimatrix reads
# the exit status instead.
#
# argv: modules probe_file result_file name first_line artifact_dir...
# The artifact dirs are the row's artifact, then the cell's dependencies,
# one argument each (never joined with os.pathsep: a folder may have ':' in
# its name); the modules, a comma-separated list imported in order, must
# come from the first; `module` is bound to the first module. name is what
# tracebacks and messages call the probe (the user's "tests/probe.py", or
# "matrix.toml" for a probe written there), and first_line the line of that
# file its first line is on.
#
# The fork server (forkserver.py) loads this file and calls probe() in each
# forked child, so both isolation modes run exactly the same code.
import json
import os
import sys
import traceback


def probe_frame(error, name):
    """The innermost frame of the probe in error's traceback, with its line."""
    frame = None
    for f, lineno in traceback.walk_tb(error.__traceback__):
        if f.f_code.co_filename == name:
            frame = (f, lineno)
    return frame


def source_line(lines, lineno):
    """Line lineno (of the file the probe is written in) of the probe."""
    return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""


def assertion_detail(error, name, lines):
    """Where an assert in the probe failed, and, when it compares, what
    each side was: 'tests/probe.py, line 3: assert module.answer() == 1;
    left: 2, right: 1'. Best effort: the operands are evaluated again in
    the probe's own namespace, as pytest's report would show them."""
    import ast

    frame = probe_frame(error, name)
    if frame is None:
        return ""
    f, lineno = frame
    source = source_line(lines, lineno)
    detail = "%s, line %d: %s" % (name, lineno, source)
    try:
        node = ast.parse(source).body[0]
    except (SyntaxError, IndexError):
        return detail
    if not isinstance(node, ast.Assert):
        return detail
    test = node.test
    try:
        if isinstance(test, ast.Compare) and len(test.comparators) == 1:
            sides = [test.left, test.comparators[0]]
            values = [
                eval(compile(ast.Expression(s), name, "eval"), f.f_globals, f.f_locals)
                for s in sides
            ]
            return "%s; left: %r, right: %r" % (detail, values[0], values[1])
        value = eval(compile(ast.Expression(test), name, "eval"), f.f_globals, f.f_locals)
        return "%s; it was %r" % (detail, value)
    except BaseException:  # noqa: B036 - the operands may raise; the line still helps
        return detail


def from_artifact(origin, artifact):
    """Whether the module file `origin` lies in the folder `artifact`.
    Found through the artifact's entry on sys.path, its path starts with
    the folder's as given, which settles it without a system call;
    otherwise both are resolved (links, `..`) and compared, a stat per
    part of each path."""
    if origin.startswith(artifact.rstrip(os.sep) + os.sep):
        return True
    return os.path.realpath(origin).startswith(os.path.realpath(artifact) + os.sep)


def compiled(code, name, first_line):
    """The probe's code object, its lines numbered as in the file it is
    written in, and its source known to tracebacks (which otherwise look
    for `name` on disk, relative to the cell's folder, and find nothing).
    Returns the code object and the file's lines."""
    import ast
    import linecache

    tree = compile(code, name, "exec", ast.PyCF_ONLY_AST)
    if first_line > 1:
        ast.increment_lineno(tree, first_line - 1)
    lines = ["\n"] * (first_line - 1) + code.splitlines(True)
    # mtime None: linecache.checkcache never drops it.
    linecache.cache[name] = (len(code), None, lines, name)
    return compile(tree, name, "exec"), lines


def read(probe_file):
    """The probe's code (UTF-8)."""
    with open(probe_file, encoding="utf-8") as f:
        return f.read()


def probe(
    artifact_dirs, modules, probe_file, result_file, name="<probe>", first_line="1", program=None
):
    """Runs one cell's probe; never returns (exits 0 on pass, 1 otherwise).
    artifact_dirs: a list of folders, the row's artifact first. program:
    what compiled() made of probe_file, when the fork server already made
    it (once for all its cells); None to read and compile it here."""
    result = {"status": "error", "stage": "import-numpy"}
    lines = []

    def write():
        # Written then renamed: a reader never sees half a result. dumps,
        # not dump: dump encodes in Python, a call per piece. Bytes through
        # os.write, not a text file: in a forked child every object touched
        # is a page copied, and a text stream is a dozen objects (the JSON
        # is ASCII, dumps escapes the rest).
        tmp = result_file + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            data = json.dumps(result).encode()
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
        os.replace(tmp, result_file)

    try:
        import numpy as np

        result["numpy"] = np.__version__
        result["stage"] = "import-module"
        dirs = [d for d in artifact_dirs if d]
        sys.path[0:0] = dirs
        names = [m for m in modules.split(",") if m]
        loaded = []
        for imported in names:
            # __import__ (C) then sys.modules, rather than
            # importlib.import_module (Python): the same import, fewer
            # objects touched in a forked child.
            __import__(imported)
            mod = sys.modules[imported]
            origin = getattr(mod, "__file__", "") or ""
            if not from_artifact(origin, dirs[0]):
                raise ImportError(
                    "imported %s from %s, not the artifact made for this cell"
                    % (imported, os.path.realpath(origin))
                )
            loaded.append(mod)
        module = loaded[0] if loaded else None
        result["stage"] = "probe"
        namespace = {"np": np, "numpy": np, "module": module, "__name__": "__probe__"}
        for imported, mod in zip(names, loaded):
            namespace.setdefault(imported.split(".")[0], sys.modules[imported.split(".")[0]])
        if program is None:
            program = compiled(read(probe_file), name, int(first_line))
        program, lines = program
        exec(program, namespace)
    except BaseException as e:  # noqa: B036 - SystemExit from a probe is a failure too
        wrong = isinstance(e, AssertionError) and result["stage"] == "probe"
        result["status"] = "wrong-result" if wrong else "error"
        result["exception"] = type(e).__name__
        message = str(e)
        if wrong:
            detail = assertion_detail(e, name, lines)
            message = "%s \u2014 %s" % (message, detail) if message and detail else message or detail
        elif result["stage"] == "probe":
            frame = probe_frame(e, name)
            if frame is not None:
                result["at"] = "%s, line %d: %s" % (name, frame[1], source_line(lines, frame[1]))
        result["message"] = message
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
    probe(sys.argv[6:], *sys.argv[1:6])
