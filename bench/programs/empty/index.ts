// The baseline's Pulumi half: a program that declares nothing, so `pulumi up` costs only
// the engine, the language host and the Node.js runtime.
export {};
