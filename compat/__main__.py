"""``python -m compat <command>``: the facade's command line.

* ``check PATH``: report every Celery usage in a project's source and whether compat supports it
  (exit status 0 when nothing is unsupported, 1 otherwise); see ``compat.check``.
* ``import-celery --app MODULE:APP --from redis://...``: move what Celery's Redis transport still holds
  into the app's queues, once; see ``compat.cutover``.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from . import check, cutover

    parser = argparse.ArgumentParser(prog="python -m compat", description="compat's command line")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check_parser = commands.add_parser(
        "check", help="report the Celery usages of a project and whether compat supports them",
        description=check.__doc__.splitlines()[0],
    )
    check.add_arguments(check_parser)
    check_parser.set_defaults(run=check.run)
    import_parser = commands.add_parser(
        "import-celery", help="move the messages Celery's Redis still holds into compat's queues",
        description=cutover.__doc__.splitlines()[0],
    )
    cutover.add_arguments(import_parser)
    import_parser.set_defaults(run=cutover.run)
    options = parser.parse_args(argv)
    try:
        return options.run(options)
    except BrokenPipeError:  # ``... | head``: the reader has gone, which is no error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
