// The moderation worker process, plus a line on stderr every 200 ms with its main thread's cumulative
// event-loop utilization, so that the feed-rate bench can read ELU over a run from outside.
import { performance } from 'node:perf_hooks';

setInterval(() => {
  const e = performance.eventLoopUtilization();
  process.stderr.write(`ELU ${JSON.stringify({ idle: e.idle, active: e.active })}\n`);
}, 200).unref();

require('../../workers/moderation-worker');
