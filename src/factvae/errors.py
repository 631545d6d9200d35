"""The one exception type the engine raises for bad input, and its warning twin.

Every message names the file (when there is one), the field and the fix, so the command line can
print it as one line and the plugin can show it as one notification.
"""

from __future__ import annotations


class FactVAEInputError(ValueError):
    """Input the engine cannot use: says which file, which field, what is wrong and the fix.

    A `ValueError`. The message is 'FILE: FIELD: PROBLEM Fix: FIX' (the parts that are given),
    one line for the command line and one notification in the plugin.

    Parameters
    ----------
    problem : str
        What is wrong.
    file : str, optional
        The file it is in.
    field : str, optional
        The field, option or key (e.g. "obsm['spatial']").
    fix : str, optional
        How to fix it.

    Attributes
    ----------
    problem : str
        As given.
    file : str or None
        As given, as a string.
    field : str or None
        As given.
    fix : str or None
        As given.
    """

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
        """The same error, now naming the file it came from (if it did not already).

        Parameters
        ----------
        file : str
            The file to name.

        Returns
        -------
        FactVAEInputError
            A new error naming `file`, or self when it names a file already.
        """
        if self.file is None:
            return FactVAEInputError(self.problem, file=file, field=self.field, fix=self.fix)
        return self


class FactVAEDataWarning(UserWarning):
    """Input the engine can use, but only after changing or ignoring part of it.

    A `UserWarning`, issued with `warnings.warn` (e.g. spots in one modality only are dropped;
    a weak gene-peak prior); filter it with `warnings.filterwarnings`.
    """
