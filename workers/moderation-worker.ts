// Process entry of the moderation worker: `revmod worker` (see workers/cli.ts).
import { main } from './cli';

main(['worker', ...process.argv.slice(2)]);
