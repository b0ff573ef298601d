"""What notifications say, kept as data: `templates.toml` beside this module (shipped in the wheel with the
package), read once and checked as it is read, so a broken text stops the service at start rather than at the
notice that would use it."""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

TEMPLATES_FILE = Path(__file__).with_name("templates.toml")
LANGUAGES = ("zh", "en")
# `[[...]]` marks an optional part of a template, kept only when every placeholder in it has a value.
OPTIONAL_PART = re.compile(r"\[\[(.*?)\]\]")
PLACEHOLDER = re.compile(r"\{(\w+)\}")

# kind → language → (title, body)
Templates = Mapping[str, Mapping[str, tuple[str, str]]]


def load_templates(path: Path = TEMPLATES_FILE) -> Templates:
    """The templates of `path`. ValueError names the kind and what is wrong: a language missing or extra, a
    title or body missing or empty, a placeholder other than `{name}`, an unbalanced `[[`/`]]`."""
    with path.open("rb") as file:
        data = tomllib.load(file)
    return {kind: _texts(f"{path.name}: [{kind!r}]", by_language) for kind, by_language in data.items()}


@lru_cache(maxsize=1)
def templates() -> Templates:
    """The service's templates, read from `templates.toml` on the first call."""
    return load_templates()


def _texts(where: str, by_language: Any) -> dict[str, tuple[str, str]]:
    if not isinstance(by_language, dict) or set(by_language) != set(LANGUAGES):
        raise ValueError(f"{where}: needs exactly the languages {', '.join(LANGUAGES)}")
    texts = {}
    for language in LANGUAGES:
        text = by_language[language]
        if not isinstance(text, dict) or set(text) != {"title", "body"}:
            raise ValueError(f"{where}.{language}: needs exactly a title and a body")
        for part in ("title", "body"):
            _check_template(f"{where}.{language}.{part}", text[part])
        texts[language] = (text["title"], text["body"])
    return texts


def _check_template(where: str, template: Any) -> None:
    if not isinstance(template, str) or not template.strip():
        raise ValueError(f"{where}: must be a non-empty string")
    remainder = OPTIONAL_PART.sub("", template)
    if "[[" in remainder or "]]" in remainder:
        raise ValueError(f"{where}: unbalanced [[ ]]")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:  # a lone { or }
        raise ValueError(f"{where}: {exc}") from exc
    for _, name, spec, conversion in parsed:
        if name is not None and (not re.fullmatch(r"\w+", name) or spec or conversion):
            raise ValueError(f"{where}: placeholders are plain {{name}}s, not {{{name}}}")
