"""Pieces for running the real program through the real Pulumi CLI: the emulated AWS as a
server, and a stand-in pulumi-resource-aws provider plugin in front of it."""
