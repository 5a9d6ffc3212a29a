"""The real Pulumi engine for the project's tests: a CLI directory built from Go modules.

`python -m realengine.cli` prints a directory holding `pulumi`, a Python language host and
the SDK's two Python scripts that the host and the engine run (see `cli.py`). Nothing here
is imported by the component or the program: it is test tooling.
"""
