# Compiles the probe without running it, so a syntax error stops the run
# before any work. stdin: the probe's code (UTF-8); argv[1]: its name.
# Prints one JSON object: {"ok": true}, or where and why it does not compile
# ({"ok": false, "line": N, "column": N, "message": "..."}, line and column
# 1-based in the code as given, either null when Python does not say).
import json
import sys

code = sys.stdin.buffer.read().decode("utf-8")
answer = {"ok": True}
try:
    compile(code, sys.argv[1], "exec")
except SyntaxError as e:
    answer = {"ok": False, "line": e.lineno, "column": e.offset, "message": "%s: %s" % (type(e).__name__, e.msg)}
except (ValueError, TypeError) as e:  # a NUL byte in the source
    answer = {"ok": False, "line": None, "column": None, "message": str(e)}
print(json.dumps(answer))
