"""A stand-in ``pulumi-resource-aws`` provider plugin, for runs of the real Pulumi CLI.

The real plugin cannot be built here. This one serves what the project's programs use
(``provider.AwsStandIn``), in front of any emulated AWS reached through the provider's
usual settings (``aws:endpoints``, keys, profiles, the ``AWS_*`` environment).
``install.write_plugin`` puts an executable ``pulumi-resource-aws`` where the CLI finds it.
"""
