// Process entry of the ops server: `revmod ops` (see workers/cli.ts).
import { main } from './cli';

main(['ops', ...process.argv.slice(2)]);
