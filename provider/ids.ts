// A resource's id says where its object lives and what it is there:
//   [user@]host[:port]/<identity>      192.0.2.10:22/tcp/198.51.100.100:80
// with an IPv6 host in brackets when a port follows ([2001:db8::10]:22/...). The identity is
// the kind's: "tcp/198.51.100.100:80" or "fwmark/1" for a service (as ipvsadm names it), the
// service's then "/10.0.0.2:80" for a real server. Ids written by create are "host:port/identity"
// (an IPv6 host unbracketed, as every release wrote them); `pulumi import` reads any of these.
// Pure: the encoder and the decoder of each part sit together, and the decoder names what it wanted.
import { FAMILIES, PROTOCOLS, hostPort, serviceKeyString } from "./model";

export interface ParsedId {
  /** Where to log in, as far as the id says. */
  at: { host: string; port?: number; user?: string };
  identity: string;
}

const SHAPE = "[user@]host[:port]/<what it is on the host>";

/** The id create gives an object (kept as every release wrote it). */
export const formatId = (host: string, port: number, identity: string): string => `${host}:${port}/${identity}`;

/** The parts of an id; throws naming the id and the shape it must have. */
export function parseId(id: string, kind: string): ParsedId {
  const bad = (why: string) => new Error(`${kind} id ${JSON.stringify(id)}: ${why} (expected ${SHAPE})`);
  const slash = id.indexOf("/");
  if (slash <= 0 || slash === id.length - 1) throw bad("no host and identity separated by /");
  const [login, identity] = [id.slice(0, slash), id.slice(slash + 1)];
  const atSign = login.lastIndexOf("@");
  const user = atSign >= 0 ? login.slice(0, atSign) : undefined;
  if (user === "") throw bad("empty user before @");
  const { host, port } = splitHostPort(login.slice(atSign + 1), () => bad("no host"));
  return { at: { host, ...(port !== undefined ? { port } : {}), ...(user ? { user } : {}) }, identity };
}

/** "host", "host:22", "[v6]", "[v6]:22", or (as ids were written) "v6:22" with the port after the last colon. */
function splitHostPort(s: string, bad: () => Error): { host: string; port?: number } {
  const toPort = (p: string) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || n < 1 || n > 65535) throw new Error(`port must be 1-65535, got ${JSON.stringify(p)}`);
    return n;
  };
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (bracket) return { host: bracket[1], ...(bracket[2] !== undefined ? { port: toPort(bracket[2]) } : {}) };
  if (!s) throw bad();
  const colons = s.split(":").length - 1;
  if (colons === 0) return { host: s };
  const last = s.lastIndexOf(":");
  return { host: s.slice(0, last), port: toPort(s.slice(last + 1)) };
}

/** "198.51.100.100:80" or "[2001:db8::1]:80": an address and a port, as hostPort writes them. */
export function parseHostPort(s: string, what: string): { address: string; port: number } {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d+)$/.exec(s) ?? /^([0-9.]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`${what} must be address:port (an IPv6 address in brackets), got ${JSON.stringify(s)}`);
  return { address: m[1], port: Number(m[2]) };
}

/** The service key a "tcp/198.51.100.100:80", "fwmark/1" or "fwmark6/1" names (serviceKeyString's inverse). */
export function parseServiceKey(s: string): Record<string, unknown> {
  const [kind, rest, ...more] = s.split("/");
  const want = `a service: tcp|udp|sctp/address:port or fwmark|fwmark6/mark, got ${JSON.stringify(s)}`;
  if (rest === undefined || more.length) throw new Error(want);
  if (kind === "fwmark" || kind === "fwmark6") {
    if (!/^\d+$/.test(rest)) throw new Error(want);
    return { fwmark: Number(rest), family: kind === "fwmark6" ? FAMILIES[1] : FAMILIES[0] };
  }
  if (!(PROTOCOLS as readonly string[]).includes(kind)) throw new Error(want);
  return { protocol: kind, ...parseHostPort(rest, "a service's address") };
}

/** A real server's identity: its service's, then its own address and port. */
export const realServerIdentity = (service: Parameters<typeof serviceKeyString>[0], address: string, port: number): string =>
  `${serviceKeyString(service)}/${hostPort(address, port)}`;

/** The service and the address a real server's identity names (realServerIdentity's inverse). */
export function parseRealServerIdentity(s: string): Record<string, unknown> {
  const cut = s.lastIndexOf("/");
  if (s.split("/").length !== 3) throw new Error(`a real server: <service>/address:port, got ${JSON.stringify(s)}`);
  return { service: parseServiceKey(s.slice(0, cut)), ...parseHostPort(s.slice(cut + 1), "a real server's address") };
}
