"""Everything that talks to AWS through boto3: the clients and their errors, the identity
they act as, the puller role's waiter, and the policy writes (fresh read, merge, verify).

Uses the pure rules below it; knows nothing of Pulumi's program or the component above.
"""
