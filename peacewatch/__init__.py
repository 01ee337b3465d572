"""peacewatch: follow the Russia-Ukraine peace negotiations as an event stream.

The core package holds what every stage shares: the event models that cross topics, the bus,
settings, metrics, errors and the CLI. Stage packages (``collectors``, ``processors``, ``alerts``)
import from here and never from each other.
"""

__version__ = "0.1.0"
