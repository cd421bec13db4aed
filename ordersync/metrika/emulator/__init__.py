"""A local stand-in for the Metrika API and Yandex OAuth, faithful to CONTRACT.md.

Start it with ``python manage.py metrika_emulator`` or, in tests,
``RunningEmulator(port=0, seed=...)``. Drive its state with ``EmulatorAdmin``.
"""

from ordersync.metrika.emulator.admin import EmulatorAdmin
from ordersync.metrika.emulator.server import (
    DEMO_SEED,
    EmulatorHTTPServer,
    RunningEmulator,
    make_server,
    serve,
)

__all__ = [
    "DEMO_SEED",
    "EmulatorAdmin",
    "EmulatorHTTPServer",
    "RunningEmulator",
    "make_server",
    "serve",
]
