"""Operator commands: run by people (make targets) or by the workflow, never by the program."""
