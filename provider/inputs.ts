// Pulumi input types derived from the zod model (z.input), so the resource classes
// accept Outputs anywhere (addresses and keys from cloud VM resources) without a
// second, hand-kept copy of every field.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import * as model from "./model";

/** Every field, at every depth, may be a pulumi.Input. (The [T] wrapping stops TypeScript
 * from splitting `boolean` into `Input<true> | Input<false>`.) */
type Scalar = string | number | boolean | undefined | null;
export type InputShape<T> = [T] extends [Scalar]
  ? pulumi.Input<NonNullable<T>> | Extract<T, undefined>
  : [NonNullable<T>] extends [(infer U)[]]
    ? pulumi.Input<InputShape<U>[]> | Extract<T, undefined>
    : pulumi.Input<{ [K in keyof NonNullable<T>]: InputShape<NonNullable<T>[K]> }> | Extract<T, undefined>;
export type ArgsOf<S extends z.ZodType> = { [K in keyof z.input<S>]: InputShape<z.input<S>[K]> };

/** Same field names and defaults as @pulumi/command's remote.ConnectionArgs. */
export type ConnectionArgs = ArgsOf<typeof model.Connection>;

type Conn = Record<string, pulumi.Input<unknown> | undefined>;

/**
 * Marks password, privateKey and privateKeyPassword secret (also the proxy's) so they are
 * encrypted in state and masked in output. A connection that is itself an Output is marked
 * secret as a whole, since its fields cannot be reached without an apply.
 */
export function protectConnection(c: pulumi.Input<ConnectionArgs>): pulumi.Input<ConnectionArgs> {
  if (pulumi.Output.isInstance(c) || c instanceof Promise) return pulumi.secret(c as pulumi.Input<ConnectionArgs>);
  const out: Conn = { ...(c as Conn) };
  for (const k of model.SECRET_CONNECTION_FIELDS) if (out[k] !== undefined) out[k] = pulumi.secret(out[k]);
  if (out.proxy !== undefined) out.proxy = protectConnection(out.proxy as pulumi.Input<ConnectionArgs>);
  return out as pulumi.Input<ConnectionArgs>;
}

/** Marks one field of an input object secret (the whole object when it is itself an Output). */
export function protectField<T>(o: pulumi.Input<T> | undefined, field: string): pulumi.Input<T> | undefined {
  if (o === undefined) return o;
  // The one cast of the provider: pulumi.secret types its result Output<Unwrap<T>>, which
  // TypeScript cannot relate back to Input<T> for a generic T (it is one at run time).
  if (pulumi.Output.isInstance(o) || o instanceof Promise) return pulumi.secret(o as pulumi.Input<T>) as unknown as pulumi.Input<T>;
  const v = (o as Record<string, unknown>)[field];
  return v === undefined ? o : ({ ...(o as object), [field]: pulumi.secret(v) } as pulumi.Input<T>);
}
