// Turns zod results into Pulumi check failures that name the field and the value,
// and tolerates values that are still unknown during preview.
import { z } from "zod";

/** The sentinel Pulumi's Node.js runtime puts in place of a value unknown at preview (runtime/rpc.ts). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface CheckFailure {
  property: string;
  reason: string;
}

export function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
  return false;
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let v: unknown = root;
  for (const k of path) v = v && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

export type Validation<T> =
  | { kind: "valid"; value: T }
  | { kind: "unknown" } // only failures on values not known yet (preview): check again at apply time
  | { kind: "invalid"; failures: CheckFailure[] };

/** Validates `input`; failures whose value (or an enclosing value) is unknown are deferred, not reported. */
export function validate<S extends z.ZodType>(schema: S, input: unknown): Validation<z.output<S>> {
  const r = schema.safeParse(input);
  if (r.success) return { kind: "valid", value: r.data };
  const failures: CheckFailure[] = [];
  for (const issue of r.error.issues) {
    const path = issue.path;
    const unknownHere = path.some((_, i) => containsUnknown(valueAt(input, path.slice(0, i + 1))));
    // Cross-field rules compare values; when either side is unknown they are judged at apply time.
    if (unknownHere || (issue.code === "custom" && containsUnknown(input))) continue;
    failures.push({ property: path.join(".") || "(input)", reason: issue.message });
  }
  return failures.length ? { kind: "invalid", failures } : { kind: "unknown" };
}

/** Validates and throws one readable error listing every failure (used at create/update time). */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw new Error(`invalid ${what}: ` + r.error.issues.map((i) => `${i.path.join(".") || "(input)"}: ${i.message}`).join("; "));
}
