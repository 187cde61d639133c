// The walkthrough's director, service and real servers from Go (the real servers' hosts,
// lvs.NewDrRealServerHost, are declared alike), through the lvs provider plugin and the generated SDK
// (sdk/go). `make test` builds it; with the plugin on PATH, `pulumi up` runs it:
//
//	pulumi stack init dev && pulumi config set --secret --path lvs:connection.privateKey -- "$(cat ~/.ssh/id_ed25519)" && pulumi up
package main

import (
	"pulumi-lvs/sdk/go/lvs"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		// The user and key come from the provider's configuration, lvs:connection.
		director := lvs.ConnectionArgs{Host: pulumi.String("192.0.2.10")}
		host, err := lvs.NewDirectorHost(ctx, "director", &lvs.DirectorHostArgs{
			Connection: director,
			Vips:       pulumi.StringArray{pulumi.String("192.0.2.100")},
		})
		if err != nil {
			return err
		}
		web, err := lvs.NewVirtualService(ctx, "web", &lvs.VirtualServiceArgs{
			Connection: director,
			Address:    pulumi.String("192.0.2.100"),
			Port:       pulumi.Int(80),
			Scheduler:  pulumi.String("rr"),
		}, pulumi.DependsOn([]pulumi.Resource{host}))
		if err != nil {
			return err
		}
		for name, address := range map[string]string{"rs-a": "192.0.2.11", "rs-b": "192.0.2.12"} {
			_, err := lvs.NewRealServer(ctx, name, &lvs.RealServerArgs{
				Connection: director,
				Service:    lvs.ServiceArgs{Address: web.Address, Port: web.Port, Protocol: web.Protocol},
				Address:    pulumi.String(address),
			})
			if err != nil {
				return err
			}
		}
		ctx.Export("director", host.Interface)
		return nil
	})
}
