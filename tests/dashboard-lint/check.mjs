// Checks the dashboard's JavaScript without a build step: formatting of every part under
// src/api/dashboard/scripts/ (prettier), and lint rules (eslint) over the script exactly as
// the server serves it: the parts in the order of SCRIPT in src/api/dashboard/mod.rs,
// concatenated into one function scope, so a name used in one part and declared in none is
// caught, as is a name declared but never used.
//
// Usage: node check.mjs [--write]   (--write reformats the parts instead of checking them)

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import * as prettier from 'prettier';

const here = dirname(fileURLToPath(import.meta.url));
const dashboard = join(here, '..', '..', 'src', 'api', 'dashboard');
const write = process.argv.includes('--write');

// The parts, in the server's order: the string literals inside `script_bundle!( ... );`.
const modRs = readFileSync(join(dashboard, 'mod.rs'), 'utf8');
const list = modRs.match(/script_bundle!\(\s*([\s\S]*?)\);/);
if (!list) throw new Error('SCRIPT = script_bundle!(...) not found in mod.rs');
const parts = [...list[1].matchAll(/"([\w.-]+\.js)"/g)].map((m) => m[1]);
if (parts.length === 0) throw new Error('no script parts listed in mod.rs');

let failed = false;

const options = JSON.parse(readFileSync(join(here, '.prettierrc.json'), 'utf8'));
for (const part of parts) {
  const path = join(dashboard, 'scripts', part);
  const text = readFileSync(path, 'utf8');
  const formatted = await prettier.format(text, { ...options, filepath: path });
  if (formatted === text) continue;
  if (write) {
    writeFileSync(path, formatted);
    console.log(`formatted ${part}`);
  } else {
    console.error(`${part}: not formatted (run: node tests/dashboard-lint/check.mjs --write)`);
    failed = true;
  }
}

// The bundle as the server builds it; line numbers in messages are mapped back to the parts.
let bundle = "(() => {\n'use strict';\n";
const starts = [];
for (const part of parts) {
  bundle += `\n// ---- ${part}\n`;
  starts.push({ part, line: bundle.split('\n').length });
  bundle += readFileSync(join(dashboard, 'scripts', part), 'utf8');
}
bundle += '\n})();\n';

const eslint = new ESLint({ cwd: here, overrideConfigFile: join(here, 'eslint.config.mjs') });
const [result] = await eslint.lintText(bundle, { filePath: join(here, 'bundle.js') });
for (const message of result.messages) {
  const origin = starts.filter((s) => s.line <= message.line).pop();
  const where = origin ? `${origin.part}:${message.line - origin.line + 1}` : `bundle:${message.line}`;
  console.error(`${where}:${message.column}: ${message.message} (${message.ruleId})`);
  failed = true;
}

if (failed) process.exit(1);
console.log(`dashboard scripts: ${parts.length} parts formatted and lint-clean`);
