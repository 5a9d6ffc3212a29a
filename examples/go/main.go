// A Pulumi Go program that declares one Lightsail container service granted pull access
// to a private ECR repository. Every other statement in the repository's policy is kept.
package main

import (
	"example.com/pulumi-lightsail-ecr/sdk/go/lightsailecr"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		// Pulumi.yaml declares both keys with their defaults.
		cfg := config.New(ctx, "")
		web, err := lightsailecr.NewPrivateEcrContainerService(ctx, "web",
			&lightsailecr.PrivateEcrContainerServiceArgs{
				ServiceName:  pulumi.String(cfg.Require("serviceName")),
				Repositories: pulumi.StringArray{pulumi.String(cfg.Require("repository"))},
			})
		if err != nil {
			return err
		}
		ctx.Export("principalArn", web.PrincipalArn)
		ctx.Export("url", web.Url)
		return nil
	})
}
