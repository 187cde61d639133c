// The outputs each kind adds to its inputs (runtime/kind.ts adds owner, host keys, stateVersion).
import { z } from "zod";
import { interfaceName } from "./primitives";

/** What refresh found changed behind pulumi-lvs's back that `up` repairs (e.g. a hand-edited keepalived file). */
const drift = z.array(z.string());
export const DirectorHostOutputs = z.object({
  interface: interfaceName,
  /** With vrrp: "master" when this director holds the VIPs, else "backup" (as of the last create, update or refresh). */
  vrrpState: z.enum(["master", "backup"]).optional(),
  drift,
});
export const DrRealServerHostOutputs = z.object({});
export const TunRealServerHostOutputs = z.object({});
export const NatRealServerHostOutputs = z.object({});
export const VirtualServiceOutputs = z.object({
  /** True when an identical service was already there (adopted): it is left in place on delete, unless adopt "own" took it over. */
  adopted: z.boolean(),
  drift,
});
export const RealServerOutputs = z.object({
  /** True when an identical destination was already there (adopted): it is left in place on delete, unless adopt "own" took it over. */
  adopted: z.boolean(),
  /** Connection counters at the last create, update or refresh. */
  activeConnections: z.number().int().optional(),
  inactiveConnections: z.number().int().optional(),
  /** On a health-checked service: "up", or "down" when keepalived took the backend out (or to weight 0). */
  health: z.enum(["up", "down"]).optional(),
});
