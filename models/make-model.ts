// Generates a model and its card: `revmod model make` (see `npx revmod model make --help`).
import { main } from '../workers/cli';

main(['model', 'make', ...process.argv.slice(2)]);
