'use strict';
// In the revmod repository, under a TypeScript loader, the sources: tsx registers a '.ts'
// extension, and jest runs modules through its own registry (its require.extensions is empty).
// Everywhere else (the published package, `node dist/…`), the build.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const tsLoader = '.ts' in require.extensions || !('.js' in require.extensions);
const useSource = tsLoader && existsSync(join(__dirname, 'src', 'index.ts'));
module.exports = useSource ? require('./src/index.ts') : require('./dist/index.js');
