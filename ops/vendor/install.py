"""Install the dashboard's browser libraries from the npm registry into ``ops/static/compat_ops/vendor/``.

``make deps`` runs this: ``npm ci`` installs exactly what ``package-lock.json`` pins, checking each
tarball against the lock's sha512 ``integrity`` (a changed or corrupted package fails the install), with
lifecycle scripts off; then the files the page loads are copied into the static folder (not in git) and
their sha256 written to ``vendor/MANIFEST.json``, which the tests compare. The page never loads
anything from another site (its Content-Security-Policy allows scripts from this origin only).

    python ops/vendor/install.py              # npm ci, then copy
    python ops/vendor/install.py --copy-only  # copy from an existing node_modules (the Dockerfile's)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE.parent / "static" / "compat_ops" / "vendor"
#: package -> files of its tarball the page loads (copied flat into vendor/<package>/).
FILES = {"uplot": ["dist/uPlot.iife.min.js", "dist/uPlot.min.css", "LICENSE"]}


def npm_ci() -> None:
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("ops/vendor: npm is needed to install the dashboard's chart library (apt-get install npm)")
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True
    )


def copy() -> dict[str, dict[str, str]]:
    """Copy the pinned files into the static folder; their versions and sha256 digests."""
    lock = json.loads((HERE / "package-lock.json").read_text())["packages"]
    manifest: dict[str, dict[str, str]] = {}
    for package, files in FILES.items():
        installed = HERE / "node_modules" / package
        version = json.loads((installed / "package.json").read_text())["version"]
        pinned = lock[f"node_modules/{package}"]["version"]
        if version != pinned:
            sys.exit(f"ops/vendor: node_modules has {package} {version}, the lock pins {pinned}: run npm ci")
        (TARGET / package).mkdir(parents=True, exist_ok=True)
        manifest[package] = {"version": version}
        for name in files:
            data = (installed / name).read_bytes()
            (TARGET / package / Path(name).name).write_bytes(data)
            manifest[package][Path(name).name] = hashlib.sha256(data).hexdigest()
    (TARGET / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


if __name__ == "__main__":
    if "--copy-only" not in sys.argv[1:]:
        npm_ci()
    for package, files in copy().items():
        print(
            f"ops/vendor: {package} {files['version']} -> {TARGET.relative_to(HERE.parent.parent)}/{package}/"
        )
