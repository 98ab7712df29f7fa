"""gdcli: gradient descent experiments on regression problems, from eleven rows to tens of millions."""

__version__ = "0.3.0"
