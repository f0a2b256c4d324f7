"""Block Kit for Shepherd's messages: pure functions from run state to Slack payloads.

Nothing here talks to Slack or Redis, so every message can be checked in a unit test and
reads the same after a restart (rendering is a function of the journal and gates).
"""
