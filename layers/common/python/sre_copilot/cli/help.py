"""Help that shows every default: the CLI's parser class (subcommands inherit it) and its formatter."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any


def state_dir_default() -> Path:
    """Where replays keep their state, so `history` finds it from any directory: the user cache
    directory (XDG_CACHE_HOME, else ~/.cache) unless `--state-dir` says otherwise."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sre-copilot"


class DefaultsFormatter(argparse.HelpFormatter):
    """Appends "(default: X)" to every option with a default its help does not already state."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default in (None, False, argparse.SUPPRESS) or action.required
                or isinstance(action, argparse._SubParsersAction)):
            return text
        if isinstance(default, list | tuple):
            default = ", ".join(map(str, default))
        return f"{text} (default: {default})"


class HelpfulParser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)


def source_name(sources: list[str]) -> Any:
    """An argparse `type` for --source: case-insensitive, and the error lists the sources."""

    def parse(value: str) -> str:
        name = value.strip().lower()
        if name not in sources:
            raise argparse.ArgumentTypeError(f"unknown source '{value}'; choose from {', '.join(sources)}")
        return name

    parse.__name__ = "source"
    return parse
