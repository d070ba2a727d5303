"""Fast, standard-library-only checks of whether each mode can run here.

Nothing in this package may import a third-party module: the noxfile calls the probes before
any session has installed anything.
"""
