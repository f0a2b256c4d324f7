"""The process library: one package per domain (``incident/``, ``slo/``), shared building
blocks in ``common/``, and ``catalog.py``, the list of the processes Shepherd ships.

The shelf, ``processes/README.md``, is generated from the catalog by ``shepherd docs``.
"""
