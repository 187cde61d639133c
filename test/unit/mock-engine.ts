// Pulumi's mock runtime for unit tests that declare resources: every resource gets the id
// `<name>_id` and its inputs as its state (the URNs are the engine's), in project "proj", stack "dev".
import * as pulumi from "@pulumi/pulumi";

/** Sets the mocks; `seen`, when given, is told each resource's name and inputs as the engine would get them. */
export function mockEngine(seen?: (name: string, inputs: Record<string, unknown>) => void): void {
  pulumi.runtime.setMocks(
    {
      newResource: (a) => (seen?.(a.name, a.inputs), { id: `${a.name}_id`, state: a.inputs }),
      call: (a) => a.inputs,
    },
    "proj",
    "dev",
  );
}
