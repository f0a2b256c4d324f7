"""Helpers of the incident processes: models, timeline and durations, the postmortem document,
statistics, and the tasks that touch Redis, Slack and PagerDuty.

The package name starts with ``_`` so the registry does not import it as a process module;
``processes.incident_response`` and ``processes.incident_stats`` import what they use, which
registers the tasks on every worker that loads the processes.
"""
