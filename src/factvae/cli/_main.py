"""The `factvae` command line. Bad input ends in one line on stderr and a non-zero exit;
`--debug` shows the traceback instead."""

from __future__ import annotations

import sys

from ..errors import FactVAEInputError
from . import _commands
from ._messages import EXIT_INPUT, EXIT_INTERNAL, _one_line_warnings, _say
from ._inputs import normalise
from ._parser import build_parser
from ._training import TrainingInterrupted


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for the resume line
    if not args.debug:
        _one_line_warnings()
    try:
        normalise(args)
        return getattr(_commands, f"cmd_{args.func}")(args)  # the parser names the command
    except FactVAEInputError as err:
        if args.debug:
            raise
        _say(f"factvae: error: {err}")
        return EXIT_INPUT
    except TrainingInterrupted as err:
        _say(f"factvae: {err}")
        return 130
    except KeyboardInterrupt:
        _say("factvae: interrupted")
        return 130
    except Exception as err:  # noqa: BLE001 - the last line of defence for the command line
        if args.debug:
            raise
        _say(f"factvae: internal error: {type(err).__name__}: {err} (run with --debug for the "
             "traceback, and please report it)")
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
