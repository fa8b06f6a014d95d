// The tfm extension: starts `tfm lsp` (the setting `tfm.path` names the executable) over stdio for
// every tfm file, and restarts it when that setting changes. Highlighting and the language
// configuration need no code: package.json contributes them.
"use strict";
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverOptions() {
  const command = vscode.workspace.getConfiguration("tfm").get("path") || "tfm";
  return { command, args: ["lsp"], transport: TransportKind.stdio };
}

async function start() {
  const server = serverOptions();
  client = new LanguageClient("tfm", "tfm", server, {
    documentSelector: [{ scheme: "file", language: "tfm" }, { scheme: "untitled", language: "tfm" }],
  });
  try {
    await client.start();
  } catch (error) {
    vscode.window.showErrorMessage(`tfm: could not start \`${server.command} lsp\` (${error.message}). ` +
                                   "Install tfm, or set `tfm.path` to the full path of its executable.");
  }
}

async function stop() {
  if (client) {
    const running = client;
    client = undefined;
    await running.stop().catch(() => {});  // a server that never started has nothing to stop
  }
}

exports.activate = async (context) => {
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration(async (event) => {
    if (event.affectsConfiguration("tfm.path")) {
      await stop();
      await start();
    }
  }));
  await start();
};

exports.deactivate = stop;
