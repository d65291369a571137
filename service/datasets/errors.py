"""The one error of the datasets layer: a table, a column, a file or a row that cannot be scored.

    DatasetError (ValueError)

Its message is one line naming what is wrong: the missing column and the columns there are, a
column's type, the file that cannot be read, or the global row index of a value outside the
loss's domain. The command line prints it and exits with status 2.
"""

from __future__ import annotations

__all__ = ["DatasetError"]


class DatasetError(ValueError):
    """A table, column, file or row that cannot be scored; the message says which and why."""
