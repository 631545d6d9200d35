"""Declared parameters: a dataclass field carries its CLI flag, GUI label, range and help with its
default, so the command line, the widgets and the API's checks are all generated from one
declaration (`FactVAEConfig` for the model, `DomainParams` and `RegulationParams` for the tools).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from .errors import FactVAEInputError


def option(default, help: str, *, flag: str, label: str | None = None, minimum=None,
           maximum=None, step=None, choices=None, gui_choices=None, gui: bool = True,
           run_level: bool = False, metavar: str | None = None, fix: str | None = None,
           above: bool = False):
    """A parameter users set (see the module docstring). `choices`: allowed values, or
    {shown: value}; `run_level`: a setting of the run (epochs, seed) that a resumed model does
    not keep as its own; `fix`: what the error for a value out of range advises; `above`: the
    minimum itself is out of range (a value must be greater)."""
    if isinstance(choices, tuple):
        choices = {c: c for c in choices}
    return field(default=default, metadata={
        "help": help, "flag": flag, "label": label or flag.lstrip("-").replace("-", " ").capitalize(),
        "min": minimum, "max": maximum, "step": step, "choices": choices,
        "gui_choices": gui_choices or choices, "gui": gui, "run_level": run_level,
        "metavar": metavar, "fix": fix, "above": above})


@dataclass(frozen=True)
class Option:
    """One user-facing parameter of a declared dataclass (see `option`)."""

    name: str
    type: type
    default: object
    help: str
    flag: str
    label: str
    min: object
    max: object
    step: object
    choices: dict | None
    gui_choices: dict | None
    gui: bool
    run_level: bool
    metavar: str | None
    fix: str | None = None
    above: bool = False

    @property
    def dest(self) -> str:
        """The argparse attribute (and the widget's attribute) for this option."""
        return self.flag.lstrip("-").replace("-", "_")


def declared_options(cls, where: str = "cli") -> list[Option]:
    """The parameters of `cls` a user sets, in declaration order: all with a CLI flag
    (`where='cli'`) or those a widget shows (`'gui'`)."""
    out = []
    for f in fields(cls):
        m = f.metadata
        if not m or (where == "gui" and not m["gui"]):
            continue
        kind = type(f.default) if not m["choices"] else object
        if f.default is None and not m["choices"]:  # an optional value: a number when ranged
            kind = (float if isinstance(m["min"], float) else int) if m["min"] is not None else str
        out.append(Option(f.name, kind, f.default, m["help"], m["flag"], m["label"], m["min"],
                          m["max"], m["step"], m["choices"], m["gui_choices"], m["gui"],
                          m["run_level"], m["metavar"], m.get("fix"), m.get("above", False)))
    return out


def check_declared(obj, *, by_flag: bool = False) -> None:
    """One clear error for the first declared parameter of `obj` outside its declared range or
    choices (None passes where the default is None). `by_flag`: name the field by its CLI flag."""
    for o in declared_options(type(obj)):
        value = getattr(obj, o.name)
        name = o.flag if by_flag else o.name
        what = o.label.lower()
        fix = o.fix or (f"use e.g. {o.default!r}." if o.default is not None else None)
        if value is None and o.default is None:
            continue
        if o.choices is not None:
            if value not in o.choices.values():
                raise FactVAEInputError(f"unknown {o.label.lower()} {value!r}.", field=name,
                                        fix=f"use one of {tuple(o.choices)}.")
            continue
        if o.min is None and o.max is None:
            continue
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise FactVAEInputError(f"{what} must be a finite number, got {value!r}.",
                                    field=name, fix=fix)
        if o.min is not None and o.max is not None and not o.min <= value <= o.max:
            raise FactVAEInputError(f"{what} must be in [{o.min:g}, {o.max:g}], got {value:g}.",
                                    field=name, fix=fix)
        if o.min is not None and o.above and not value > o.min:
            raise FactVAEInputError(f"{what} must be " + ("positive (more than 0)" if o.min == 0 else
                                                          f"above {o.min:g}") + f", got {value:g}.",
                                    field=name, fix=fix)
        if o.min is not None and not value >= o.min:
            raise FactVAEInputError(f"{what} must be at least {o.min:g}, got {value:g}.", field=name,
                                    fix=fix)
