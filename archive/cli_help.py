"""Help text in plain words: typer 0.29 prints programmer tags (``<list[Path]>``,
``<int range>``, ``<bool>``, ``{query}``); these subclasses show ``QUERY``, ``N``,
``DIR`` or the choices instead. The command line's group class (``cls=PlainGroup``)
gives every command's parameters these classes as help is made.
"""

from __future__ import annotations

from pathlib import Path

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption


class _Argument(TyperArgument):
    """An argument shown as its metavar (``QUERY``), without typer's ``{query}`` and ``<str>``."""

    def display_type_rich(self, ctx: typer.Context) -> str | None:  # noqa: ARG002
        return None

    def _usage_display_name(self) -> str:
        return self.display_name_raw if self.metavar else self.display_name_raw.upper()


class _Option(TyperOption):
    """An option shown with a plain value name (``N``, ``DIR``, ``hybrid|lexical``), not ``<int range>``."""

    def display_type_rich(self, ctx: typer.Context) -> str | None:
        if self.metavar is not None or self.is_flag:
            return self.metavar
        desc = getattr(self, "type_descriptor", None)
        if desc is None:  # another typer release: its own display
            return super().display_type_rich(ctx)
        if desc.is_choice:
            return "|".join(str(getattr(c, "value", c)) for c in desc.choices or ())
        return {int: "N", float: "X", Path: "PATH"}.get(desc.annotation, "TEXT")  # type: ignore[call-overload]


def _plain(param: object) -> object:
    if type(param) is TyperArgument:
        param.__class__ = _Argument
    elif type(param) is TyperOption:
        param.__class__ = _Option
    return param


class _Command(TyperCommand):
    def get_params(self, ctx: typer.Context) -> list:  # noqa: D102
        return [_plain(param) for param in super().get_params(ctx)]


class PlainGroup(TyperGroup):
    """The command group: every parameter shown in the plain words of :class:`_Argument` and :class:`_Option`."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for command in self.commands.values():
            if type(command) is TyperCommand:
                command.__class__ = _Command

    def get_params(self, ctx: typer.Context) -> list:  # noqa: D102
        return [_plain(param) for param in super().get_params(ctx)]
