// Declares, one by one, the resources listed in the stack config key `lvs-e2e:resources`
// ([{ type, name, args }]), so the end-to-end suite can drive each resource class with any
// input, including inputs that must be rejected. Conveniences for tests:
//   - a connection's `privateKeyPath` (also the proxy's) is read from disk;
//   - a RealServer's `service` may name a VirtualService declared before it;
//   - an LvsDrCluster's `director`, `ha.standby` and backends' `connection` are connections as above;
//   - `dependsOn` names resources declared before it;
//   - `{ type: "LabVm", name, args: { host } }` boots a lab VM (a stand-in for a cloud VM
//     resource) and a connection `{ labVm: name, ... }` takes its host and port from the
//     VM's outputs, so the provider sees unknown values at preview.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
// The package as users get it (its built code, as `make e2e` builds it): the engine then runs
// no TypeScript compiler over the provider on every run.
import * as lvs from "pulumi-lvs";
import { LabVm } from "./lab-vm";

type Spec = {
  type:
    | "DirectorHost"
    | "VirtualService"
    | "RealServer"
    | "DrRealServerHost"
    | "TunRealServerHost"
    | "NatRealServerHost"
    | "LvsDrCluster"
    | "LabVm"
    | "Group";
  name: string;
  args: Record<string, unknown>;
  /** The name of a Group declared before: the resource becomes its child (moving into a component). */
  parent?: string;
  /** Names of resources declared before that this one waits for. */
  dependsOn?: string[];
};
type Conn = Record<string, unknown> & { privateKeyPath?: string; proxy?: Conn; labVm?: string };

const specs = new pulumi.Config().requireObject<Spec[]>("resources");
const services = new Map<string, lvs.VirtualService>();
const vms = new Map<string, LabVm>();
const groups = new Map<string, pulumi.ComponentResource>();
const declared = new Map<string, pulumi.Resource>();
/** A component with nothing of its own, to move resources into. */
class Group extends pulumi.ComponentResource {
  constructor(name: string) {
    super("lvs-e2e:index:Group", name, {});
    this.registerOutputs({});
  }
}

function connection(c: Conn | undefined): Conn | undefined {
  if (!c) return c;
  const { privateKeyPath, proxy, labVm, ...rest } = c;
  const out: Conn = { ...rest };
  if (privateKeyPath) out.privateKey = fs.readFileSync(privateKeyPath, "utf8");
  if (proxy) out.proxy = connection(proxy);
  if (labVm) {
    const vm = vms.get(labVm)!;
    Object.assign(out, { host: vm.sshHost, port: vm.sshPort });
  }
  return out;
}

for (const { type, name, args: raw = {}, parent, dependsOn } of specs) {
  const args: Record<string, unknown> = { ...raw, connection: connection(raw.connection as Conn | undefined) };
  const opts = {
    ...(parent ? { parent: groups.get(parent) } : {}),
    ...(dependsOn ? { dependsOn: dependsOn.map((d) => declared.get(d)!) } : {}),
  };
  switch (type) {
    case "Group":
      groups.set(name, new Group(name));
      break;
    case "LabVm":
      vms.set(name, new LabVm(name, raw as { host: string }));
      break;
    case "DirectorHost":
      declared.set(name, new lvs.DirectorHost(name, args as unknown as lvs.DirectorHostArgs, opts));
      break;
    case "LvsDrCluster": {
      const backends = (raw.backends as { connection: Conn }[]).map((b) => ({ ...b, connection: connection(b.connection) }));
      const ha = raw.ha as { standby: Conn } | undefined;
      new lvs.LvsDrCluster(
        name,
        {
          ...raw,
          director: connection(raw.director as Conn),
          backends,
          ...(ha ? { ha: { ...ha, standby: connection(ha.standby) } } : {}),
        } as unknown as lvs.LvsDrClusterArgs,
        opts,
      );
      break;
    }
    case "DrRealServerHost":
      declared.set(name, new lvs.DrRealServerHost(name, args as unknown as lvs.DrRealServerHostArgs, opts));
      break;
    case "TunRealServerHost":
      new lvs.TunRealServerHost(name, args as unknown as lvs.TunRealServerHostArgs, opts);
      break;
    case "NatRealServerHost":
      new lvs.NatRealServerHost(name, args as unknown as lvs.NatRealServerHostArgs, opts);
      break;
    case "VirtualService":
      services.set(name, new lvs.VirtualService(name, args as unknown as lvs.VirtualServiceArgs, opts));
      declared.set(name, services.get(name)!);
      break;
    case "RealServer": {
      const service = typeof args.service === "string" ? services.get(args.service) : args.service;
      new lvs.RealServer(name, { ...args, service } as unknown as lvs.RealServerArgs, opts);
      break;
    }
  }
}
