# Lists every NumPy version the package index knows (PEP 691 JSON, or the
# HTML simple page), one per line. Wheel availability per interpreter is
# decided later by the installer; this only says which series exist.
import json
import os
import re
import sys
import urllib.request

index = (
    os.environ.get("UV_INDEX_URL")
    or os.environ.get("UV_DEFAULT_INDEX")
    or os.environ.get("PIP_INDEX_URL")
    or "https://pypi.org/simple"
).rstrip("/")
request = urllib.request.Request(
    index + "/numpy/",
    headers={"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"},
)
with urllib.request.urlopen(request, timeout=60) as response:
    body = response.read().decode("utf-8", "replace")
    content_type = response.headers.get("Content-Type", "")
versions = set()
if "json" in content_type:
    data = json.loads(body)
    versions.update(data.get("versions") or [])
    for f in data.get("files", []):
        if not f.get("yanked"):
            m = re.match(r"numpy-([0-9][^-]*?)(?:-|\.tar|\.zip)", f.get("filename", ""))
            if m:
                versions.add(m.group(1))
else:
    versions.update(re.findall(r">numpy-([0-9][^-<]*?)(?:-|\.tar|\.zip)", body))
sys.stdout.write("\n".join(sorted(versions)) + "\n")
