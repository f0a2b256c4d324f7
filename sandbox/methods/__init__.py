"""Web API method handlers, one module per Slack method family.

Importing this package registers every handler in :data:`METHODS`.
"""

from sandbox.methods import auth, chat, conversations, files, reactions, users, views
from sandbox.methods.registry import METHODS, Call, Method

__all__ = ["METHODS", "Call", "Method", "auth", "chat", "conversations", "files", "reactions", "users", "views"]
