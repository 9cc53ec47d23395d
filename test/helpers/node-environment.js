// onnxruntime-node checks `data instanceof Float32Array` against its own realm; jest runs tests in a
// separate vm context whose typed-array constructors differ (onnxruntime issue 16622). Hand the test
// realm the outer realm's constructors so tensors built in tests are accepted.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'Uint8Array', 'Uint8ClampedArray', 'Int8Array', 'Uint16Array',
  'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array',
  'BigUint64Array', 'DataView',
];

class NodeEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
    this.global.Buffer = Buffer;
  }
}

module.exports = NodeEnvironment;
