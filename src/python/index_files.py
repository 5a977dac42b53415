# Lists every file of one project on each package index named in argv
# (PEP 691 JSON, else the PEP 503 HTML page), with whether it is yanked
# (PEP 592) and why. Prints one JSON list: [{"index": url, "files":
# [[filename, yanked]]}], where yanked is false or the reason ("" when the
# index gives none). An index that does not have the project gives an empty
# list; one that cannot be reached fails the script (exit 1, the reason on
# stderr).
import html
import json
import re
import sys
import urllib.error
import urllib.request

project = sys.argv[1]
out = []
for index in sys.argv[2:]:
    index = index.rstrip("/")
    request = urllib.request.Request(
        index + "/" + project + "/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read().decode("utf-8", "replace")
            content_type = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        if e.code == 404:
            out.append({"index": index, "files": []})
            continue
        sys.stderr.write("%s: HTTP %s %s\n" % (index, e.code, e.reason))
        sys.exit(1)
    except Exception as e:  # unreachable, DNS, TLS: the caller says so
        sys.stderr.write("%s: %s\n" % (index, e))
        sys.exit(1)
    files = []
    if "json" in content_type:
        for f in json.loads(body).get("files", []):
            yanked = f.get("yanked", False)
            if yanked is True:
                yanked = ""
            files.append([f.get("filename", ""), yanked if yanked is not None else False])
    else:
        for attrs, name in re.findall(r"<a\s([^>]*)>([^<]+)</a>", body):
            m = re.search(r'data-yanked(?:="([^"]*)")?', attrs)
            files.append([html.unescape(name.strip()), html.unescape(m.group(1) or "") if m else False])
    out.append({"index": index, "files": files})
sys.stdout.write(json.dumps(out))
