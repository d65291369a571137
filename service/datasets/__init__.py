"""Scoring tables and files of any size: in this process batch by batch, or on a Dask cluster.

`score(table, loss, predictions=..., targets=...)` and `evaluate(table, losses=[...], ...)` take
a pyarrow Table or RecordBatchReader, a pandas, polars or dask DataFrame, or Parquet or CSV files,
and return the numbers one HTTP request on the same rows would (`TableResult.to_dict()`). The
loss core stays pure numpy: this package reads the columns and merges the sums.
"""

from .errors import DatasetError
from .sums import TableComposite, TableGroup, TableResult
from .tables import evaluate, score

__all__ = ["DatasetError", "TableComposite", "TableGroup", "TableResult", "evaluate", "score"]
