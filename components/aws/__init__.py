"""Everything that talks to AWS through boto3: the clients and their errors, the identity
they act as, the puller role's waiter, and the policy writes (fresh read, merge, verify).

Uses the pure rules below it. Of Pulumi it reads only the stack's ``aws:`` config
(``AwsIdentity.from_stack_config``); it knows nothing of the program's resources or of
the component above.
"""
