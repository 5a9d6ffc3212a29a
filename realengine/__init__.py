"""The real Pulumi engine for the project's tests and demo.

- `cli.py`: `python -m realengine.cli` prints a directory holding `pulumi` (built from Go
  modules), a Python language host and the SDK's two Python scripts the host and the
  engine run;
- `aws_server.py`: the emulated AWS as a server every process of a run reaches;
- `aws_plugin/`: a stand-in `pulumi-resource-aws` in front of it;
- `runner.py`: a throwaway Pulumi workspace that runs this repository's program.

Nothing here is imported by the component or the program: it is test tooling.
"""
