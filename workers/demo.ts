// Process entry of the local demo (README "Quick start"): `revmod demo` (see workers/cli.ts).
import { main } from './cli';

main(['demo', ...process.argv.slice(2)]);
