// `npm run soak`: the benchmark's soak mode, i.e. `bench/run.ts --soak` (see its --help).
process.argv.splice(2, 0, '--soak');
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('./run');
