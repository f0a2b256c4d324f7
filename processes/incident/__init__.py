"""The incident domain: declaring and running an incident, and the statistics of past ones.

Processes: ``response`` (incident-response) and ``stats`` (incident-stats), listed in
``processes.catalog``. The rest are their building blocks: ``policy`` (severities, roles,
cadences), ``models`` (inputs, forms and task arguments), ``tasks`` and ``cancel`` (what touches
Redis, Slack, PagerDuty and GitHub), ``effects`` (those calls done once), ``store``, ``timeline``,
``figures`` (the statistics arithmetic), ``issues`` and ``postmortem``.

Until issue 11 §6 these lived in ``processes/_incident/`` and ``processes/incident_*.py``; tasks
and forms keep answering to those old paths (``aliases=``) so runs journaled then still replay.
"""
