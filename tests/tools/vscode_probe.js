// Run by tests/tools/test_editors.py with node on the extension unpacked from the .vsix: loads
// extension.js, and through it the bundled vscode-languageclient, under a stand-in for VS Code's
// `vscode` module (which only exists inside VS Code), activates it with `tfm.path` set to argv[3],
// and prints as JSON how it would start the language server.
"use strict";
const Module = require("module");
const path = require("path");

const [extensionDir, tfmPath] = process.argv.slice(2);

// Any property of `anything()` is again a function that can be called or constructed: enough for
// the client library's module-level code, which subclasses and reads VS Code's classes.
function anything() {
  return new Proxy(function () {}, {
    get: (target, key) => (key === "prototype" ? {} : key === Symbol.toPrimitive ? () => 0 : anything()),
    construct: () => anything(),
    apply: () => anything(),
  });
}
const vscode = new Proxy({
  workspace: {
    getConfiguration: (section) => ({ get: (key) => (section === "tfm" && key === "path" ? tfmPath : undefined) }),
    onDidChangeConfiguration: () => ({ dispose() {} }),
  },
}, { get: (target, key) => (key in target ? target[key] : anything()) });
const load = Module._load;
Module._load = function (request, ...rest) {
  return request === "vscode" ? vscode : load.call(this, request, ...rest);
};

// The real client module, as the extension will require it; only its LanguageClient is replaced,
// by one that records what it was given instead of spawning a process.
const client = require(require.resolve("vscode-languageclient/node", { paths: [extensionDir] }));
const started = [];
client.LanguageClient = class {
  constructor(id, name, serverOptions, clientOptions) {
    started.push({ id, name, serverOptions, clientOptions });
  }
  async start() {}
  async stop() {}
};
const extension = require(path.join(extensionDir, "extension.js"));
extension.activate({ subscriptions: [] }).then(() => {
  process.stdout.write(JSON.stringify({ started, transportStdio: client.TransportKind.stdio }));
});
