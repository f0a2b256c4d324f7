"""The SLO domain: service level objectives set up as rules, and their recurring review.

Processes: ``setup`` (slo-setup) and ``review`` (slo-review), listed in ``processes.catalog``.
The rest are their building blocks: ``policy`` (burn-rate alerts, windows, settings),
``inputs``, ``budget`` (error-budget arithmetic), ``rules`` and ``unittests`` (the generated
Prometheus rules and their promtool tests), ``plan``, ``steps``, ``documents``, ``chart``, and the
tasks (``tasks``, and ``repo`` for the rules branch and pull request).

Until issue 11 §6 these lived in ``processes/_slo/`` and ``processes/slo_*.py``; tasks keep
answering to those old paths (``aliases=``) so runs journaled then still replay.
"""
