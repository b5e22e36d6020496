"""The chart library comes from the npm registry at install time: pinned, integrity-checked, not in git."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import ops
from ops.apps import VENDORED, vendored_chart_library

HERE = Path(ops.__file__).parent
VENDOR = HERE / "vendor"
STATIC = HERE / "static" / "compat_ops" / "vendor"


def test_the_lock_pins_one_version_with_an_integrity_hash():
    wanted = json.loads((VENDOR / "package.json").read_text())["dependencies"]
    lock = json.loads((VENDOR / "package-lock.json").read_text())["packages"]
    for name, version in wanted.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} must be pinned exactly, not {version!r}"
        entry = lock[f"node_modules/{name}"]
        assert entry["version"] == version
        assert entry["integrity"].startswith("sha512-")


def test_the_static_files_are_what_npm_installed_from_the_lock():
    manifest = json.loads((STATIC / "MANIFEST.json").read_text())
    lock = json.loads((VENDOR / "package-lock.json").read_text())["packages"]
    assert manifest["uplot"]["version"] == lock["node_modules/uplot"]["version"]
    for name, digest in manifest["uplot"].items():
        if name == "version":
            continue
        data = (STATIC / "uplot" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest
        assert (
            data
            == (
                VENDOR / "node_modules" / "uplot" / ("LICENSE" if name == "LICENSE" else f"dist/{name}")
            ).read_bytes()
        )
    assert b"uPlot" in VENDORED.read_bytes()


def test_installed_files_are_not_committed_so_a_fresh_clone_needs_make_deps():
    root = HERE.parent
    tracked = subprocess.run(
        ["git", "ls-files", "ops/static/compat_ops/vendor", "ops/vendor/node_modules"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert tracked == ""
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(VENDORED.relative_to(root))], cwd=root, check=False
    )
    assert ignored.returncode == 0
    makefile = (root / "Makefile").read_text()
    assert "ops/vendor/install.py" in makefile and "deps: $(STAMP) $(VENDOR)" in makefile


def test_a_missing_library_is_a_system_check_warning(monkeypatch, tmp_path):
    assert vendored_chart_library() == []
    monkeypatch.setattr("ops.apps.VENDORED", tmp_path / "missing.js")
    [warning] = vendored_chart_library()
    assert warning.id == "compat_ops.W001" and "make deps" in warning.hint
