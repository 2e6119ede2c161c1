"""The program's components."""
