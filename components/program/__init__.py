"""The Pulumi side of a run: the AWS provider the children use, the moment the program has
declared everything, and the one policy resource per repository that every component of
the program shares.
"""
