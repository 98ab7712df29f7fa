"""gdcli: gradient descent experiments on small regression problems."""

__version__ = "0.1.0"
