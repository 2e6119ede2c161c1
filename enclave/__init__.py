"""Offline tooling of the EU data enclave: check, plan, diff, review, bootstrap, audit."""
