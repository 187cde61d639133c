// The runtime module: what the serialized provider shims require() at call time, and what
// the provider plugin (plugin/) serves. Nothing here is captured into Pulumi state; the
// state holds only the shim.
import { directorHostKind } from "./director-host";
import { drRealServerHostKind } from "./dr-real-server-host";
import { tunRealServerHostKind } from "./tun-real-server-host";
import { natRealServerHostKind } from "./nat-real-server-host";
import { makeProvider } from "./kind";
import { realServerKind } from "./real-server";
import { virtualServiceKind } from "./virtual-service";

/** Every kind of resource: its schemas and rules (the plugin's schema is made from them) and its host operations. */
export const kinds = {
  DirectorHost: directorHostKind,
  VirtualService: virtualServiceKind,
  RealServer: realServerKind,
  DrRealServerHost: drRealServerHostKind,
  TunRealServerHost: tunRealServerHostKind,
  NatRealServerHost: natRealServerHostKind,
};
export type ProviderName = keyof typeof kinds;

export const providers = {
  DirectorHost: makeProvider(kinds.DirectorHost),
  VirtualService: makeProvider(kinds.VirtualService),
  RealServer: makeProvider(kinds.RealServer),
  DrRealServerHost: makeProvider(kinds.DrRealServerHost),
  TunRealServerHost: makeProvider(kinds.TunRealServerHost),
  NatRealServerHost: makeProvider(kinds.NatRealServerHost),
} satisfies Record<ProviderName, unknown>;
