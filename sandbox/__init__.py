"""A local Slack: Web API, Socket Mode, signed HTTP delivery and a control API, for Shepherd's
bot, its end-to-end tests and the web console. See :mod:`sandbox.server`.
"""

from sandbox.cli import main
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer

__all__ = ["SandboxConfig", "SandboxServer", "main"]
