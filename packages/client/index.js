'use strict';
// The built package (dist/) when there is one; inside the revmod repository, where a TypeScript
// loader (tsx, jest) is registered, the sources.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

module.exports = existsSync(join(__dirname, 'dist', 'index.js')) ? require('./dist/index.js') : require('./src/index.ts');
