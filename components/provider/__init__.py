"""The project's own Pulumi provider, package ``lightsail-ecr``: the component served
through Construct to programs in any language, and the component's own resources served
as custom resources (``plugin``); the schema (``schema``); the plugin's executable
(``install``)."""
