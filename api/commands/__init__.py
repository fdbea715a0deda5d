"""Sub-commands of the ``hakobu`` command line, one module per command group."""
