// Regenerates the README's configuration and error-code tables from the code.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderEnvTable, renderErrorTable, replaceBlock } from '../src/config/render-docs';

const path = 'README.md';
let doc = readFileSync(path, 'utf8');
doc = replaceBlock(doc, 'config-table', renderEnvTable());
doc = replaceBlock(doc, 'error-table', renderErrorTable());
writeFileSync(path, doc);
process.stdout.write(`updated ${path}\n`);
