"""The composition root: the one package that imports everything.

``shepherd.cli`` is the console script, ``shepherd.serve`` runs the bot with a worker,
``shepherd.launcher`` wires the Slack sandbox to the bot and a worker, ``shepherd.docs``
generates the process pages and ``shepherd.discovery`` tells the engine where processes live.
Every other package points down (see the import-linter contracts in pyproject.toml):
engine/ never imports bot/, sandbox/ or processes/, and nothing but this package imports
bot/ or sandbox/.
"""
