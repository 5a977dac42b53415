# The fork server: one per runtime environment. It imports numpy once, then
# for each request (one JSON object per line on stdin) forks a child that runs
# the very same probe() as process mode, in its own process group, working
# directory and output files. It answers, one JSON object per line on stdout,
# each tagged by "event" (forkserver.rs reads them as one tagged enum):
#   {"event": "ready", "numpy": "2.0.2"}               once numpy is imported
#   {"event": "started", "id": N, "pid": P}            when cell N's child started
#   {"event": "exited", "id": N, "code": C}            when it exited
#   {"event": "killed", "id": N, "signal": S}          when a signal ended it
# A crash or hang kills only that child: the server never runs probe code.
#
# argv: driver_file (probe.py)
import gc
import importlib.util
import json
import os
import select
import signal
import sys

# What every child would otherwise import or look up on its own, done once
# here and inherited by each fork (a child costs a fork, not a fork and a
# few imports): the probe driver's lazy imports and the C function
# die_with_parent calls. Every page a child touches is copied for it (and
# freed at its exit), so what it does before the probe is kept to calls
# into C: _signal, not signal's enum-converting wrappers.
import ast  # noqa: F401,E402
import linecache  # noqa: F401,E402

try:
    import _signal as raw_signal  # noqa: E402
except ImportError:
    raw_signal = signal

try:
    import ctypes  # noqa: E402

    PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except Exception:  # noqa: BLE001 - no ctypes (a minimal Python): children do without
    PRCTL = None
PDEATHSIG = (1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG, the signal
SIGCHLD, SIG_DFL = int(signal.SIGCHLD), int(signal.SIG_DFL)

spec = importlib.util.spec_from_file_location("abimatrix_probe", sys.argv[1])
driver = importlib.util.module_from_spec(spec)
spec.loader.exec_module(driver)

import numpy  # noqa: E402  the point of the server: imported once, inherited by every fork


def send(line):
    """Writes one message (a line of JSON) to abimatrix. Straight to the
    pipe, and the per-cell ones formatted by hand: after each fork every
    page this process writes to is copied (the child shares them), so the
    loop between forks touches as little as it can (json.dumps and a text
    stream touch dozens of objects, each a page)."""
    data = line.encode()
    while data:
        data = data[os.write(1, data) :]


def die_with_parent():
    """SIGKILL this child when the server dies (Linux), so a killed matrix
    leaves no cell behind; elsewhere the server's EOF handling does it."""
    try:
        PRCTL(*PDEATHSIG)
    except Exception:
        pass


# The probe's code objects (and lines), by (file, name, first line):
# compiled here once, not in every child.
PROGRAMS = {}


def compiled(request):
    """What the driver's compiled() makes of the request's probe, made once;
    None when it does not compile or cannot be read (the child then tries
    and reports why, as in process mode)."""
    key = (request["probe"], request["name"], request["line"])
    if key not in PROGRAMS:
        try:
            code = driver.read(key[0])
            PROGRAMS[key] = driver.compiled(code, key[1], int(key[2]))
        except Exception:  # noqa: BLE001 - the child reports it
            PROGRAMS[key] = None
        # The code lives as long as the server: no child's collection walks it.
        getattr(gc, "freeze", lambda: None)()
    return PROGRAMS[key]


def start(request, wake_fds):
    program = compiled(request)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        try:
            os.setpgid(pid, pid)  # also done by the child; whichever runs first wins the race
        except OSError:
            pass
        return pid
    status = 70
    try:
        os.setpgid(0, 0)
        die_with_parent()
        raw_signal.set_wakeup_fd(-1)
        raw_signal.signal(SIGCHLD, SIG_DFL)
        for fd in wake_fds:
            os.close(fd)
        os.chdir(request["cwd"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(f, fd)
            os.close(f)
        # faulthandler is on from the server's `-X faulthandler`: it writes
        # to fd 2, which is now the cell's stderr file.
        driver.probe(
            request["artifacts"],
            request["module"],
            request["probe"],
            request["result"],
            request["name"],
            str(request["line"]),
            program,
        )
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(status)


def main():
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children = {}
    pending = b""
    # Everything alive now (numpy, the driver) lives as long as the server:
    # frozen, a child's garbage collections never walk it, so they neither
    # cost time nor copy the server's pages on write. (gc.freeze: 3.7+.)
    getattr(gc, "freeze", lambda: None)()
    send(json.dumps({"event": "ready", "numpy": numpy.__version__}) + "\n")
    stdin_open = True
    while stdin_open or children:
        readable, _, _ = select.select([0, wake_r] if stdin_open else [wake_r], [], [], 1.0)
        if wake_r in readable:
            try:
                os.read(wake_r, 4096)
            except BlockingIOError:
                pass
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            cell = children.pop(pid, None)
            if cell is None:
                continue
            if os.WIFSIGNALED(status):
                send('{"event": "killed", "id": %d, "signal": %d}\n' % (cell, os.WTERMSIG(status)))
            else:
                send('{"event": "exited", "id": %d, "code": %d}\n' % (cell, os.WEXITSTATUS(status)))
        if stdin_open and 0 in readable:
            data = os.read(0, 65536)
            if not data:
                # abimatrix went away (finished, or was killed): its cells
                # go with it.
                for pid in list(children):
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
                stdin_open = False
                break
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if line.strip():
                    request = json.loads(line)
                    pid = start(request, (wake_r, wake_w))
                    children[pid] = request["id"]
                    send('{"event": "started", "id": %d, "pid": %d}\n' % (request["id"], pid))


main()
