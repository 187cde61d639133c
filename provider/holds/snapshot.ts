// What a transaction read from a host (commands.snapshotRead's named sections), as the Snapshot
// the plan decides on. Pure: every section is parsed by remote/parsers.ts and friends.
import { LEDGER, LEDGER_NEXT } from "../remote/commands";
import {
  namedSections,
  parseDaemons,
  parseHashes,
  parseIpAddr,
  parseIpvsSave,
  mergeThresholds,
  parseRoutes,
  parseSysctls,
  parseLinks,
  parseGateways,
  parseFou,
  parseTimeouts,
  parseDevices,
} from "../remote/parsers";
import { parseKeepalivedState } from "../remote/keepalived";
import { parseLedger } from "../ledger";
import { Snapshot } from "./plan";

/** A read's text, or its sections (parsers.namedSections) when the caller merged two reads. */
export function parseSnapshot(out: string | Record<string, string>): Snapshot {
  const s = typeof out === "string" ? namedSections(out) : out;
  return {
    ledger: parseLedger(s.ledger ?? "", LEDGER),
    pending: s.pending?.trim() ? parseLedger(s.pending, LEDGER_NEXT) : undefined,
    addrs: parseIpAddr(s.addrs ?? ""),
    devices: "devices" in s ? parseDevices(s.devices) : undefined,
    sysctls: parseSysctls(s.sysctls ?? ""),
    ipvs: "thresholds" in s ? mergeThresholds(parseIpvsSave(s.ipvs ?? ""), s.thresholds) : undefined,
    routes: parseRoutes(s.routes ?? ""),
    daemons: parseDaemons(s.daemons ?? ""),
    keepalived: parseKeepalivedState(s.keepalived ?? ""),
    files: parseHashes(s.files ?? ""),
    links: parseLinks(s.links ?? ""),
    gateways: {
      ...prefixed("ipv4", parseGateways(s.gateways4 ?? "")),
      ...prefixed("ipv6", parseGateways(s.gateways6 ?? "")),
    },
    fou: parseFou(s.fou ?? ""),
    timeouts: parseTimeouts(s.timeouts ?? ""),
    nft: nftState(s.nft ?? ""),
    restoreFailed: s.restore?.trim() === "failed",
    arping: toolOf(s.arping ?? ""),
    na6: (s.na6 ?? "").trim().endsWith("/na6"),
  };
}
/** What `command -v arping || command -v busybox` found, by the command's name. */
const toolOf = (out: string) => {
  const name = out.trim().split("/").pop();
  return name === "arping" || name === "busybox" ? name : undefined;
};
const prefixed = (family: string, r: Record<string, string>) =>
  Object.fromEntries(Object.entries(r).map(([k, v]) => [`${family} ${k}`, v]));
/** The nft section: the table's hash now and the recorded one, or nothing when we never wrote it. */
const nftState = (out: string) => {
  const [live, written] = out.split("\n").map((l) => l.trim());
  return written ? { live, written } : undefined;
};
