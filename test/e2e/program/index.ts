// Declares, one by one, the resources listed in the stack config key `lvs-e2e:resources`
// ([{ type, name, args }]); a RealServer's `service` may name a VirtualService declared
// before it. This lets the end-to-end suite drive each resource class with any input,
// including inputs that must be rejected.
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "../../../provider";

type Spec = { type: "DirectorHost" | "VirtualService" | "RealServer" | "DrRealServerHost"; name: string; args: Record<string, unknown> };

const specs = new pulumi.Config().requireObject<Spec[]>("resources");
const services = new Map<string, lvs.VirtualService>();
for (const { type, name, args } of specs) {
  switch (type) {
    case "DirectorHost": new lvs.DirectorHost(name, args as unknown as lvs.DirectorHostArgs); break;
    case "DrRealServerHost": new lvs.DrRealServerHost(name, args as unknown as lvs.DrRealServerHostArgs); break;
    case "VirtualService": services.set(name, new lvs.VirtualService(name, args as unknown as lvs.VirtualServiceArgs)); break;
    case "RealServer": {
      const service = typeof args.service === "string" ? services.get(args.service) : args.service;
      new lvs.RealServer(name, { ...args, service } as unknown as lvs.RealServerArgs);
      break;
    }
  }
}
