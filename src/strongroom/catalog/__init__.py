"""The catalog: S3 metadata (users, buckets, objects, uploads) behind one narrow interface.

`api.Catalog` is the interface and `model` its records; `SqliteCatalog` is the
embedded implementation. Everything else in this package is private to them.
"""

from strongroom.catalog.api import BucketExists, BucketNotEmpty, Catalog, CatalogConflict, NoSuchBucketError
from strongroom.catalog.sqlite import SqliteCatalog

__all__ = [
    "BucketExists",
    "BucketNotEmpty",
    "Catalog",
    "CatalogConflict",
    "NoSuchBucketError",
    "SqliteCatalog",
]
