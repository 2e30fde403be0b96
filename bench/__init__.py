"""The benchmark: strongroom beside moto and a bare app (bench/README.md; run with `python3 dev.py bench`)."""
