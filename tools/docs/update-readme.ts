// Regenerates the README's configuration and error-code tables and `.env.example` from the code.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderEnvExample, renderEnvTable, renderErrorTable, replaceBlock } from './render-docs';

let doc = readFileSync('README.md', 'utf8');
doc = replaceBlock(doc, 'config-table', renderEnvTable());
doc = replaceBlock(doc, 'error-table', renderErrorTable());
writeFileSync('README.md', doc);
writeFileSync('.env.example', renderEnvExample());
process.stdout.write('updated README.md and .env.example\n');
