"""The HTTP service, the web console and the ``hakobu`` command line."""
