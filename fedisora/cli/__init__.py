"""The ``fedisora`` command line: one module per command group."""
