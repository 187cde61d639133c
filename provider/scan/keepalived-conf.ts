// keepalived's configuration syntax, read the way keepalived 2.2's parser (lib/parser.c) reads it:
// whitespace-separated words; a "double-quoted string" is one word; '{' and '}' open and close a
// block, also in the middle of a line; '#' or '!' outside quotes starts a comment to the end of
// the line (`\#` and `\!` are the characters themselves); a '\' at the end of a line continues
// it. Parameter substitution ($NAME), conditional lines (@id) and sequences (~SEQ) are not
// expanded: their words stay as written, and no translation takes such a word for a value.
import { isIP } from "net";
import { canonicalIpv6 } from "../model";

/** One keyword line, with its block if it opens one. */
export interface Statement {
  /** The keyword, then its values (quotes removed). */
  words: string[];
  block?: Statement[];
  /** The keyword's line in its file, from 1. */
  line: number;
}
/** One of the operator's keepalived files, parsed; `errors` names what keepalived would refuse or misread. */
export interface ConfFile {
  path: string;
  statements: Statement[];
  errors: string[];
}

const OPEN = Symbol("{");
const CLOSE = Symbol("}");
type Token = string | typeof OPEN | typeof CLOSE;

/** One logical line's tokens, its comment dropped; undefined when a quote is left open. */
function tokens(line: string): Token[] | undefined {
  const out: Token[] = [];
  let word: string | undefined;
  const end = () => {
    if (word !== undefined) out.push(word);
    word = undefined;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      end();
      const close = line.indexOf('"', i + 1);
      if (close < 0) return undefined;
      out.push(line.slice(i + 1, close));
      i = close;
    } else if (c === "\\" && (line[i + 1] === "#" || line[i + 1] === "!")) word = (word ?? "") + line[++i];
    else if (c === "#" || c === "!") break;
    else if (c === "{" || c === "}" || /\s/.test(c)) {
      end();
      if (c === "{") out.push(OPEN);
      if (c === "}") out.push(CLOSE);
    } else word = (word ?? "") + c;
  }
  end();
  return out;
}

/** A file's statements as a tree of `{ }` blocks. Never throws: what does not parse goes to `errors`. */
export function parseConf(path: string, text: string): ConfFile {
  const statements: Statement[] = [];
  const open: Statement[][] = [statements];
  const errors: string[] = [];
  // The statement a '{' at the start of the next line opens (keepalived allows it there).
  let last: Statement | undefined;
  const physical = text.split("\n");
  for (let n = 0; n < physical.length; n++) {
    const line = n + 1;
    let logical = physical[n];
    while (logical.endsWith("\\") && n + 1 < physical.length) logical = logical.slice(0, -1) + physical[++n];
    const toks = tokens(logical);
    if (!toks) errors.push(`line ${line}: a quote is not closed`);
    let current: Statement | undefined;
    for (const t of toks ?? []) {
      if (t === OPEN) {
        let owner = current ?? last;
        if (!owner || owner.block) {
          errors.push(`line ${line}: '{' without a keyword`);
          open[open.length - 1].push((owner = { words: [], line }));
        }
        owner.block = [];
        open.push(owner.block);
        current = last = undefined;
      } else if (t === CLOSE) {
        if (open.length > 1) open.pop();
        else errors.push(`line ${line}: '}' closes no block`);
        current = last = undefined;
      } else if (current) current.words.push(t);
      else open[open.length - 1].push((current = { words: [t], line }));
    }
    last = current ?? (toks?.length ? undefined : last);
  }
  if (open.length > 1) errors.push(`${open.length - 1} block(s) not closed at the end of the file`);
  return { path, statements, errors };
}

/** Every statement of a tree, at any depth (a block left open by mistake still has its contents found). */
export const everyStatement = (statements: Statement[]): Statement[] => statements.flatMap((s) => [s, ...everyStatement(s.block ?? [])]);

/** A statement as written (for messages): `real_server 198.51.100.11 80`. */
export const text = (s: Statement): string => s.words.map((w) => (w === "" || /[\s{}#!]/.test(w) ? JSON.stringify(w) : w)).join(" ");

/** An IP address in the form the model keeps (IPv6 canonical), or undefined. */
export const address = (w: string | undefined): string | undefined =>
  w === undefined || !isIP(w) ? undefined : isIP(w) === 6 ? canonicalIpv6(w) : w;

/** Addresses VRRP moves: the `virtual_ipaddress` and `virtual_ipaddress_excluded` blocks of every file. */
export const vrrpAddresses = (files: ConfFile[]): string[] =>
  files.flatMap((f) =>
    everyStatement(f.statements)
      .filter((s) => ["virtual_ipaddress", "virtual_ipaddress_excluded"].includes(s.words[0]) && s.block)
      .flatMap((s) => s.block!.map((a) => address(a.words[0]?.replace(/\/\d+$/, "")) ?? a.words[0])),
  );

/** What identifies an IPVS service (the model's ServiceKey). */
export interface Key {
  address?: string;
  port?: number;
  protocol: string;
  fwmark?: number;
}

/** Every `virtual_server` block of the files, with its file. */
export const virtualServers = (files: ConfFile[]): { file: ConfFile; block: Statement }[] =>
  files.flatMap((file) =>
    everyStatement(file.statements)
      .filter((s) => s.words[0] === "virtual_server")
      .map((block) => ({ file, block })),
  );

/**
 * Whether a `virtual_server` block may run service `k`. Conservative: a head the scan cannot read
 * as written (a $NAME, an address range of a group) may run any service it could stand for.
 */
export function mayRun(block: Statement, files: ConfFile[], k: Key): boolean {
  const protocol = (block.block ?? []).find((s) => s.words[0] === "protocol")?.words[1]?.toLowerCase();
  const [, first, second] = block.words;
  if (first === "group")
    return everyStatement(files.flatMap((f) => f.statements))
      .filter((s) => s.words[0] === "virtual_server_group" && s.words[1] === second)
      .some((g) => (g.block ?? []).some((m) => member(m.words, protocol, k)));
  return member(block.words.slice(1), protocol, k);
}

/** One `ADDR [PORT]` / `fwmark N` (a head, or a virtual_server_group member) against service `k`. */
function member([first, second]: string[], protocol: string | undefined, k: Key): boolean {
  // A word that is not a literal (a $NAME, a range, a CIDR) may stand for anything.
  const is = (w: string | undefined, n: number | undefined) => !/^\d+$/.test(w ?? "0") || Number(w ?? 0) === n;
  if (first === "fwmark") return k.fwmark !== undefined && is(second, k.fwmark);
  if (k.fwmark !== undefined) return false;
  // keepalived's protocol is TCP unless the block says otherwise (case does not matter).
  if ((protocol ?? "tcp") !== k.protocol && ["tcp", "udp", "sctp", undefined].includes(protocol)) return false;
  const a = address(first);
  // Without a port, a service on every port: IPVS has it as port 0.
  return (a === undefined || a === k.address) && is(second, k.port);
}
