"""Pure rules: what a repository policy, a grant, an input and an image reference must be.

No boto3, no Pulumi, no clock (tests/test_layers.py holds this): everything here can be
tested with tables and hypothesis alone, and every layer above may use it.
"""
