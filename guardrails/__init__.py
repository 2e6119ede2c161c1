"""The guardrails project: organization policies the operator holds over a site's data account.

A package so that the program (``guardrails/__main__.py``), the tooling and the
tests all import its modules as ``guardrails.<module>``; see ``__main__.py`` for
how the real CLI finds them.
"""
