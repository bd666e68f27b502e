"""What every ``experiments/`` script says to its user when things go wrong.

Bad input is one line, ``error: <flag or file>: <what is wrong>``, on stderr and exit code 2
(:func:`fail`), also for what the command-line parser rejects (:func:`parse`); Ctrl-C is one
line, ``interrupted``, and exit code 130 (:func:`entry_point`), while the run directory being
written records status ``interrupted`` (:func:`jaxopt_lab.rundir.run_directory`). A reader that
closes the pipe early (``train.py --help | head``) ends the script quietly with exit code 141.

This module imports no JAX: a script may use it before it sets up its devices.
"""

from __future__ import annotations

import functools
import io
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import tyro

USAGE_ERROR = 2
INTERRUPTED = 130  # 128 + SIGINT, the shell's convention
BROKEN_PIPE = 141  # 128 + SIGPIPE

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    """One clear error line on stderr and exit code 2 (the usage-error convention)."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(USAGE_ERROR)


def entry_point(main: Callable[..., int]) -> Callable[..., int]:
    """``main`` with Ctrl-C answered by one line, ``interrupted``, and exit code 130, and a
    closed output pipe by silence and exit code 141."""

    @functools.wraps(main)
    def wrapped(*args: Any, **kwargs: Any) -> int:
        try:
            return main(*args, **kwargs)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr, flush=True)
            return INTERRUPTED
        except BrokenPipeError:
            _silence_stdout()
            return BROKEN_PIPE

    return wrapped


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail again
    (the recipe of Python's ``signal`` documentation)."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return  # not a file (a test's capture): nothing left to flush to the pipe
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


class _ParseError(Exception):
    pass


def parse(cls: Callable[..., T], argv: Sequence[str] | None = None, **kwargs: Any) -> T:
    """``tyro.cli(cls, args=argv, **kwargs)``, but a command line tyro rejects raises
    ``ValueError`` with one line naming the flag, instead of printing tyro's error box."""
    try:
        from tyro._errors import on_parse_error  # tyro >= 1.0.17; else tyro's own box
    except ImportError:
        return tyro.cli(cls, args=argv, **kwargs)
    try:
        with on_parse_error(_raise_parse_error):
            return tyro.cli(cls, args=argv, **kwargs)
    except _ParseError as error:
        raise ValueError(str(error)) from None


def _raise_parse_error(event: Any) -> NoReturn:
    """tyro's parse-error event as one line (unknown kinds of event get a generic line)."""
    argument = getattr(event, "argument", None)
    flag = "/".join(argument.lowered.name_or_flags) if argument is not None else ""
    kind = type(event).__name__
    if kind == "InstantiationFailure":
        message = f"{flag or 'value'}: {event.message}"
    elif kind == "InvalidChoice":
        message = f"{flag}: unknown value {event.value!r}; allowed: {', '.join(event.choices)}"
    elif kind == "UnrecognizedArgs":
        message = f"unrecognized arguments: {' '.join(event.tokens)} (see --help)"
    elif kind == "MissingArgs":
        names = ", ".join("/".join(a.arg.lowered.name_or_flags) for a in event.missing_arguments)
        message = f"missing required flag {names}"
    elif kind == "BadValue" and event.reason == "too_few_values":
        message = f"{flag}: missing value"
    else:
        message = f"{flag + ': ' if flag else ''}invalid command line ({kind}; see --help)"
    raise _ParseError(message)
