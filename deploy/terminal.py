"""Colour for people only: ANSI styles when the stream is a terminal and NO_COLOR (https://no-color.org) is unset
or empty, so logs, pipes and CI captures stay plain text."""

from __future__ import annotations

import os
import sys
from typing import TextIO

BOLD = "1"
RED = "31"
GREEN = "32"
YELLOW = "33"


def colour_enabled(stream: TextIO | None = None) -> bool:
    """Whether `stream` (sys.stdout when None, looked up at call time) should get colour."""
    stream = sys.stdout if stream is None else stream
    return not os.environ.get("NO_COLOR") and stream.isatty()


def paint(text: str, style: str, stream: TextIO | None = None) -> str:
    """`text` in the ANSI `style` (e.g. RED, or a child's "36") when `stream` gets colour, else unchanged."""
    return f"\033[{style}m{text}\033[0m" if colour_enabled(stream) else text
