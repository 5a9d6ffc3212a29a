"""Another team's stack, as most stacks write a repository policy: one
``aws.ecr.RepositoryPolicy`` holding the whole document, copied from the console some
time ago. Its ``up`` replaces whatever is live, grants of other stacks included, which
is what the policy pack is there to stop.
"""

import json

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
region = pulumi.Config("aws").require("region")

aws.ecr.RepositoryPolicy(
    "registry-policy",
    repository=config.require("repository"),
    region=region,
    policy=json.dumps(config.require_object("document")),
)
