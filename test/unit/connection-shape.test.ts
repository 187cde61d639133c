// The connection input takes @pulumi/command's remote.ConnectionArgs (checked by the compiler), plus knownHostsPath and lockTimeout.
import type { types } from "@pulumi/command";
import type { ConnectionArgs } from "../../provider";

type Command = types.input.remote.ConnectionArgs;
const fromCommand = (c: Command): ConnectionArgs => c;
const toCommand = (c: ConnectionArgs): Command => c;

test("ConnectionArgs has @pulumi/command's remote.ConnectionArgs fields, plus knownHostsPath and lockTimeout", () => {
  const fields: (keyof Command)[] = [
    "host",
    "port",
    "user",
    "password",
    "privateKey",
    "privateKeyPassword",
    "agentSocketPath",
    "dialErrorLimit",
    "perDialTimeout",
    "hostKey",
    "proxy",
  ];
  const ours: Record<keyof ConnectionArgs, true> = {
    host: true,
    port: true,
    user: true,
    password: true,
    privateKey: true,
    privateKeyPassword: true,
    agentSocketPath: true,
    dialErrorLimit: true,
    perDialTimeout: true,
    hostKey: true,
    proxy: true,
    knownHostsPath: true,
    lockTimeout: true,
  };
  expect(Object.keys(ours).sort()).toEqual([...fields, "knownHostsPath", "lockTimeout"].sort());
  expect(toCommand(fromCommand({ host: "h" }))).toEqual({ host: "h" });
});
