#!/usr/bin/env node
// pulumi-resource-lvs: pulumi-lvs as a Pulumi provider plugin (package `lvs`), for programs in
// any language (YAML, Go, Python, .NET). The engine starts it with its own address and speaks
// the provider protocol to it, which @pulumi/pulumi/provider serves; the calls are in provider.ts.
import * as provider from "@pulumi/pulumi/provider";
import { watchEngine } from "../runtime/engine-watch";
import { hide, importById, lvs, reveal } from "./provider";
import { answerServerCalls } from "./server-calls";

// Watched as the dynamic provider watches it, so a stopped run leaves no transaction to write later.
watchEngine(process.argv, true);
answerServerCalls({ reveal, hide }, importById);
void provider.main(lvs, process.argv.slice(2));
