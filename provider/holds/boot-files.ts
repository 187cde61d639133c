// The boot files a ledger calls for: each persisted object's line, as its kind gives it
// (kinds.ts), and our nftables table of the persisted marks, laid out by remote/boot.ts.
import { Ledger, desiredOf, persisted } from "../ledger";
import { noBootLines, renderBootFiles } from "../remote/boot";
import { marksOf, nftTable } from "../remote/nftables";
import { kindOf } from "./kinds";

/** localeCompare's order (no locale given), one collator for every comparison. */
const byText = new Intl.Collator();

/** The content every boot file should have for `ledger`; null means the file should not exist. */
export function bootFiles(ledger: Ledger): Record<string, string | null> {
  const lines = noBootLines();
  // A stable order whatever the ledger's: by where each object is.
  // (Each place's text made once, not once per comparison: thousands of entries at a thousand backends.)
  const entries = Object.values(ledger.entries)
    .map((e) => ({ e, at: JSON.stringify(e.where) }))
    .sort((a, b) => byText.compare(a.at, b.at));
  for (const { e } of entries) {
    // Only objects that should be there.
    if (!persisted(e) || !desiredOf(e).present) continue;
    const b = kindOf(e.kind).boot(e, ledger);
    if (b) lines[b.part].push(b.line);
  }
  return renderBootFiles(lines, nftTable(marksOf(ledger, true)));
}
