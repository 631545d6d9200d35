"""The one exception type the engine raises for bad input, and its warning twin.

Every message names the file (when there is one), the field and the fix, so the command line can
print it as one line and the plugin can show it as one notification.
"""

from __future__ import annotations


class FactVAEInputError(ValueError):
    """Input the engine cannot use: says which file, which field, what is wrong and the fix."""

    def __init__(self, problem: str, *, file: str | None = None, field: str | None = None,
                 fix: str | None = None):
        self.problem = problem
        self.file = None if file is None else str(file)
        self.field = field
        self.fix = fix
        super().__init__(self._format())

    def _format(self) -> str:
        where = ": ".join(p for p in (self.file, self.field) if p)
        text = f"{where}: {self.problem}" if where else self.problem
        if self.fix:
            text += f" Fix: {self.fix}"
        return text

    def with_file(self, file: str) -> "FactVAEInputError":
        """The same error, now naming the file it came from (if it did not already)."""
        if self.file is None:
            return FactVAEInputError(self.problem, file=file, field=self.field, fix=self.fix)
        return self


class FactVAEDataWarning(UserWarning):
    """Input the engine can use, but only after changing or ignoring part of it."""
