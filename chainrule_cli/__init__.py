"""The ``chainrule`` command-line application: trains networks from ``nn`` and draws graphs
from ``autograd``. Imports run one way: this application → ``nn`` → ``autograd``."""
