// Pulumi stores each dynamic resource's provider text (`__provider`) in the state and runs that
// stored copy on refresh and destroy. It must be a thin shim: no SSH library code, no
// credentials, no environment values, only the provider's name.
import { dynamicType, shimText } from "../../provider/shim";
import { providers } from "../../provider/runtime";

/** Evaluates a shim the way Pulumi's dynamic provider does (a module; then its handler()), with `require` given. */
function load(text: string, req: (id: string) => unknown): unknown {
  const exports: { handler?: () => unknown } = {};
  new Function("exports", "require", text)(exports, req);
  return exports.handler!();
}

describe.each(["DirectorHost", "VirtualService", "RealServer", "DrRealServerHost", "TunRealServerHost", "NatRealServerHost"] as const)(
  "%s provider",
  (name) => {
    test("is a short module that requires the runtime only when the engine calls it", () => {
      process.env.PULUMI_LVS_TEST_SECRET = "do-not-capture";
      const text = shimText(name);
      expect(text).not.toMatch(/ssh2|node-ssh|NodeSSH|do-not-capture|zod/);
      expect(text.length).toBeLessThan(120);
      const required: string[] = [];
      const sentinel = { kind: name };
      expect(load(text, (id) => (required.push(id), { providers: { [name]: sentinel } }))).toBe(sentinel);
      expect(required).toEqual(["pulumi-lvs/runtime"]);
    });

    test("hands the engine's calls to a provider with every method the dynamic provider calls", () => {
      for (const method of ["check", "diff", "create", "read", "update", "delete"] as const)
        expect(typeof providers[name][method]).toBe("function");
      expect(dynamicType(name)).toBe(`pulumi-nodejs:dynamic/lvs:${name}`);
    });
  },
);
