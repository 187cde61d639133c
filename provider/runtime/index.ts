// The runtime module: what the serialized provider shims require() at call time.
// Nothing here is captured into Pulumi state; the state holds only the shim.
import { directorHostKind } from "./director-host";
import { drRealServerHostKind } from "./dr-real-server-host";
import { tunRealServerHostKind } from "./tun-real-server-host";
import { natRealServerHostKind } from "./nat-real-server-host";
import { makeProvider } from "./kind";
import { realServerKind } from "./real-server";
import { virtualServiceKind } from "./virtual-service";

export const providers = {
  DirectorHost: makeProvider(directorHostKind),
  VirtualService: makeProvider(virtualServiceKind),
  RealServer: makeProvider(realServerKind),
  DrRealServerHost: makeProvider(drRealServerHostKind),
  TunRealServerHost: makeProvider(tunRealServerHostKind),
  NatRealServerHost: makeProvider(natRealServerHostKind),
};
export type ProviderName = keyof typeof providers;
