#!/usr/bin/env node
'use strict';
// The `revmod` bin: the TypeScript entry through tsx in a checkout of the repository (development
// dependencies installed), the compiled one (dist/) in an image built with `npm run build`.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

function resolvable(id) {
  try {
    require.resolve(id);
    return true;
  } catch {
    return false;
  }
}

const source = join(__dirname, 'cli.ts');
let entry;
if (existsSync(source) && resolvable('tsx/cjs')) {
  require('tsx/cjs');
  entry = require(source);
} else {
  entry = require(join(__dirname, '..', 'dist', 'workers', 'cli.js'));
}
entry.main(process.argv.slice(2));
