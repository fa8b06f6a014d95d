// Run by `vsce package` (the `vscode:prepublish` script): the extension ships the TextMate grammar
// that tfm generates, editors/tfm.tmLanguage.json, copied here at build time so that there is one
// committed grammar and the extension's cannot drift from it.
"use strict";
const fs = require("fs");
const path = require("path");

fs.copyFileSync(path.join(__dirname, "..", "tfm.tmLanguage.json"), path.join(__dirname, "tfm.tmLanguage.json"));
