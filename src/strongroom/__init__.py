"""strongroom: an S3-compatible object store in which every object is encrypted at rest."""

__version__ = "0.1.0"
