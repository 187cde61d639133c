// The rules every field of the model is built from: addresses, ports, numbers in a range, one
// of a list; each message names the value it refused.
import { z } from "zod";

export const ipv4 = z.ipv4({ error: (i) => `must be an IPv4 address, got ${JSON.stringify(i.input)}` });
/** First octet and the value as a 32-bit number, for the special ranges below. */
const ipv4Number = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const NOT_UNICAST: [string, number, number][] = [
  ["the unspecified address", ipv4Number("0.0.0.0"), 8],
  ["a loopback address", ipv4Number("127.0.0.0"), 8],
  ["a multicast address", ipv4Number("224.0.0.0"), 4],
  ["a reserved or broadcast address", ipv4Number("240.0.0.0"), 4],
];
/** An address a VIP or a backend can have: unicast, not loopback, not 0.0.0.0/8. */
export const unicastIpv4 = z
  .ipv4({ error: (i) => `must be an IPv4 or IPv6 address, got ${JSON.stringify(i.input)}` })
  .superRefine((a, ctx) => {
    const n = ipv4Number(a);
    const hit = NOT_UNICAST.find(([, net, bits]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(net / 2 ** (32 - bits)));
    if (hit) ctx.addIssue({ code: "custom", message: `must be a unicast address, got ${JSON.stringify(a)} (${hit[0]})` });
  });
/**
 * The canonical text of an IPv6 address (lower case, longest zero run as ::), as ipvsadm and
 * `ip` print it: so a VIP written "2001:DB8:0::1" is the same object as the kernel's "2001:db8::1".
 */
export const canonicalIpv6 = (a: string): string => new URL(`http://[${a}]/`).hostname.slice(1, -1);
const NOT_UNICAST_V6: [string, RegExp][] = [
  ["the unspecified address", /^::$/],
  ["the loopback address", /^::1$/],
  ["a multicast address", /^ff/],
  ["a link-local address", /^fe[89ab]/],
  ["an IPv4-mapped address", /^::ffff:/],
];
/** A unicast IPv6 address (not ::, ::1, multicast, link-local or IPv4-mapped), in canonical form. */
const unicastIpv6 = z
  .ipv6({ error: (i) => `must be an IPv4 or IPv6 address, got ${JSON.stringify(i.input)}` })
  .transform(canonicalIpv6)
  .superRefine((a, ctx) => {
    const hit = NOT_UNICAST_V6.find(([, re]) => re.test(a));
    if (hit) ctx.addIssue({ code: "custom", message: `must be a unicast address, got ${JSON.stringify(a)} (${hit[0]})` });
  });
/** A VIP or backend address: IPv4 or IPv6 (unicast). */
export const ipAddress = z
  .string({ error: (i) => `must be an IPv4 or IPv6 address, got ${JSON.stringify(i.input)}` })
  .transform((a, ctx) => {
    const r = (a.includes(":") ? unicastIpv6 : unicastIpv4).safeParse(a);
    if (r.success) return r.data;
    for (const i of r.error.issues) ctx.addIssue({ code: "custom", message: i.message });
    return z.NEVER;
  });
export type Family = "ipv4" | "ipv6";
export const familyOf = (address: string): Family => (address.includes(":") ? "ipv6" : "ipv4");
/** A VIP on an interface: a single address, /32 or /128. */
export const vipPrefix = (vip: string) => (familyOf(vip) === "ipv6" ? 128 : 32);

export const intIn = (min: number, max: number, what: string) =>
  z
    .number({ error: (i) => `${what} must be a number, got ${JSON.stringify(i.input)}` })
    .int({ error: (i) => `${what} must be a whole number, got ${JSON.stringify(i.input)}` })
    .min(min, { error: (i) => `${what} must be between ${min} and ${max}, got ${JSON.stringify(i.input)}` })
    .max(max, { error: (i) => `${what} must be between ${min} and ${max}, got ${JSON.stringify(i.input)}` });
export const oneOf = <T extends readonly [string, ...string[]]>(values: T, what: string) =>
  z.enum(values, { error: (i) => `${what} must be one of ${values.join(", ")}; got ${JSON.stringify(i.input)}` });

export const port = intIn(1, 65535, "port");
/** Linux interface names: at most 15 characters, no slash, no white space. */
export const interfaceName = z.string().regex(/^[A-Za-z0-9_.:@-]{1,15}$/, {
  error: (i) => `must be a Linux interface name, got ${JSON.stringify(i.input)}`,
});

/** "198.51.100.100:80", "[2001:db8::1]:80": an address and port as ipvsadm writes them. */
export const hostPort = (address: string, port: number): string => (address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`);
