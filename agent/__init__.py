"""statusdash host agent: collects host metrics and pushes them to the hub.

Ships alone to every host. Depends on the standard library, psutil and requests only.
"""

__version__ = "1.0.0"
