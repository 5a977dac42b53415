#!/usr/bin/env python3
"""Refuses a release whose files disagree with where and what it is.

Run by .github/workflows/release.yml before anything is built, with
GITHUB_REPOSITORY (owner/name), GITHUB_REF_TYPE and GITHUB_REF_NAME as
GitHub sets them. Exits 1, saying what to change, unless:

- on a tag, the tag is `v` + Cargo.toml's version (the one version both
  the wheel and the crate carry), and
- Cargo.toml's `repository` and pyproject.toml's Repository URL are this
  repository, so that PyPI and crates.io do not link somewhere else (they
  say OWNER until the real owner is written in).
"""

import os
import sys
import tomllib
from pathlib import Path

root = Path(__file__).resolve().parents[2]
cargo = tomllib.loads((root / "Cargo.toml").read_text())["package"]
pyproject = tomllib.loads((root / "pyproject.toml").read_text())["project"]

errors = []
version = cargo["version"]
if os.environ.get("GITHUB_REF_TYPE") == "tag":
    tag = os.environ.get("GITHUB_REF_NAME", "")
    if tag != f"v{version}":
        errors.append(f"the tag is {tag!r}, but Cargo.toml's version is {version!r}: tag v{version}, or change the version")

repository = f"https://github.com/{os.environ.get('GITHUB_REPOSITORY', '')}"
for file, url in [
    ("Cargo.toml ([package] repository)", cargo.get("repository")),
    ("pyproject.toml ([project.urls] Repository)", pyproject.get("urls", {}).get("Repository")),
]:
    if url != repository:
        errors.append(f"{file} is {url!r}, but this repository is {repository!r}")

for e in errors:
    print(f"error: {e}", file=sys.stderr)
if errors:
    sys.exit(1)
print(f"releasing abimatrix {version} from {repository}")
