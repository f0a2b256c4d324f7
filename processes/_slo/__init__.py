"""Helpers of the slo-setup process: budget arithmetic, rule and test generators, documents, tasks.

The leading underscore keeps ``load_processes`` from treating this package as a process module;
``processes/slo_setup.py`` imports what it needs, so it reads like the runbook.
"""
