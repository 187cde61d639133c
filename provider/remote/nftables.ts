// The nftables table pulumi-lvs owns on a director: the rules that mark packets for firewall-mark
// services. Rendered whole from the host's ledger (every `mark` entry) and loaded atomically
// with `nft -f`, like keepalived's files; nothing outside this table is ever touched.
import { Ledger, MarkValue, desiredValue } from "../ledger";
import { NFT_HASH, nft } from "./commands";

/** The table's text for these marks (what `nft -f` loads), or null when there are none. */
export function nftTable(marks: MarkValue[]): string | null {
  if (!marks.length) return null;
  const rules = [...marks]
    .sort((a, b) => a.fwmark - b.fwmark || a.family.localeCompare(b.family))
    .flatMap((m) =>
      m.match.map(
        (x) =>
          `    ${m.family === "ipv6" ? "ip6" : "ip"} daddr ${x.address} ${x.protocol} dport { ${x.ports.join(", ")} } meta mark set ${m.fwmark}`,
      ),
    );
  return [
    "table inet pulumi_lvs {",
    "  chain prerouting {",
    // mangle priority: before IPVS sees the packet (it schedules at input).
    "    type filter hook prerouting priority mangle; policy accept;",
    ...rules,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** Every mark the ledger wants; `persistedOnly` for the boot file. */
export function marksOf(ledger: Ledger, persistedOnly = false): MarkValue[] {
  return Object.values(ledger.entries).flatMap((e) => {
    const m = e.kind === "mark" && (!persistedOnly || Object.values(e.holders).some((h) => h.persist)) ? desiredValue(e) : undefined;
    return m ? [m] : [];
  });
}

/**
 * Commands that bring our table from what `before` rendered to what `after` does: loaded again
 * when its text changes or someone changed it behind our back (its hash is not the one we
 * recorded), deleted when no mark is left.
 */
export function nftCommands(before: Ledger, after: Ledger, live: { live?: string; written?: string } | undefined): string[] {
  const want = nftTable(marksOf(after));
  const had = nftTable(marksOf(before));
  const drifted = !!live?.written && live.live !== live.written;
  if (want === null) return had !== null || live?.written ? nft.remove() : [];
  if (want === had && !drifted && live?.written) return [];
  return nft.load(want);
}

/** What refresh reports about our table, when a service has marks. */
export function nftDrift(live: { live?: string; written?: string } | undefined): string[] {
  if (!live?.written) return [`the nftables table inet pulumi_lvs is missing (${NFT_HASH} not found)`];
  return live.live === live.written ? [] : ["the nftables table inet pulumi_lvs was changed outside pulumi-lvs"];
}
