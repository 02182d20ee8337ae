"""Scale-out: the WALS fit on a Dask cluster (``pip install 'fastwals[dask]'``).

    from distributed import Client
    from fastwals.distributed import DistributedWALS

    client = Client("tcp://scheduler:8786")
    model = DistributedWALS(client, 64, iterations=15, regularization=0.1)
    # Parquet parts on storage that the driver and every worker see at this path
    model.fit("/shared/events/", user_col="user", item_col="item", value_col="plays")
    model.recommend_all("/shared/recommendations/", N=20)  # Parquet parts, by the workers
    local = model.to_wals()                                 # or gather a fitted WALS

Modules: _estimator (the fit loop and its outputs), _inputs (sources -> row
blocks on the workers), _tables (reading and splitting rows, on the workers),
_blocks (the blocks and the kernel tasks), _sweep (a half-sweep: one
eigenbasis, the exchange, the solves), _checkpoint, _recommend.
"""

from ._estimator import DistributedWALS

__all__ = ["DistributedWALS"]
