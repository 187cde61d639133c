// The connection input takes exactly @pulumi/command's remote.ConnectionArgs: checked by the compiler.
import type { types } from "@pulumi/command";
import type { ConnectionArgs } from "../../provider";

type Command = types.input.remote.ConnectionArgs;
const fromCommand = (c: Command): ConnectionArgs => c;
const toCommand = (c: ConnectionArgs): Command => c;

test("ConnectionArgs and @pulumi/command's remote.ConnectionArgs have the same fields", () => {
  const fields: (keyof Command)[] = ["host", "port", "user", "password", "privateKey", "privateKeyPassword", "agentSocketPath", "dialErrorLimit", "perDialTimeout", "hostKey", "proxy"];
  const ours: Record<keyof ConnectionArgs, true> = {
    host: true, port: true, user: true, password: true, privateKey: true, privateKeyPassword: true,
    agentSocketPath: true, dialErrorLimit: true, perDialTimeout: true, hostKey: true, proxy: true,
  };
  expect(Object.keys(ours).sort()).toEqual([...fields].sort());
  expect(toCommand(fromCommand({ host: "h" }))).toEqual({ host: "h" });
});
