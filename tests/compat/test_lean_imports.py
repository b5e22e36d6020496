"""A worker process loads only what it uses: ``import compat`` and an app leave out the command-line and
Decimal modules (each worker process pays their memory), and Decimals still travel when a program has them."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import sys
from compat import Celery
from compat import serialization
app = Celery("lean", broker="redis://127.0.0.1:1/0", set_as_current=False)
loaded = sorted(name for name in ("argparse", "decimal") if name in sys.modules)
from decimal import Decimal
back = serialization.loads(serialization.dumps({"price": Decimal("1.50")}))
print(loaded, repr(back["price"]))
"""


def test_import_compat_loads_neither_argparse_nor_decimal_and_decimals_still_round_trip():
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split("\n")[-2] == "[] Decimal('1.50')"
