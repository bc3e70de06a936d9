import { formatReport } from './report.ts';
import { LONG_CHAOS, runChaos } from './scenario.ts';

// `npm run chaos`: the long soak at the size. Prints the report and exits 1 on a failed verdict.
const { report } = await runChaos({ ...LONG_CHAOS, log: (line) => console.log(`[${new Date().toISOString()}] ${line}`) });
console.log(formatReport(report));
process.exit(report.pass ? 0 : 1);
